/* sabaq-lessons: a JupyterLab / Notebook 7 extension written by hand, without a build step.

   It is a module-federation container like the ones JupyterLab's builder makes: init()
   receives the page's shared modules and get("./extension") answers the plugins, which
   take @jupyterlab/notebook from the page (the same objects the page uses).

   - A lesson (a notebook in ~/lessons/ with cells tagged sabaq:setup) runs its set-up cells as
     soon as it opens, so nothing waits for Shift + Enter, which a phone does not have.
   - On a narrow screen the text column takes the screen's width; sliders, buttons and
     choices are at least 44 px tall (a finger's target).
   - Number answer boxes (class sabaq-number) bring up the number keyboard (inputmode=decimal).
   - /tree?sabaq=assignments opens nbgrader's assignment list (Fetch, Submit, Feedback). */
(function () {
  "use strict";
  var SETUP = "sabaq:setup";
  var LESSONS = "lessons/";  // where sabaq delivers lessons, relative to the server's root (the home)
  var STYLE_ID = "sabaq-lessons-style";
  var ASSIGNMENTS = "nbgrader:open-assignment-list";
  var CSS = [
    "@media (max-width: 700px) {",
    "  body[data-notebook] .jp-NotebookPanel-notebook, .sabaq-lesson .jp-Notebook { padding-left: 4px; padding-right: 4px; }",
    "  .sabaq-lesson .jp-InputPrompt, .sabaq-lesson .jp-OutputPrompt { display: none; }",
    "  .sabaq-lesson .jp-Cell { padding-left: 2px; padding-right: 2px; }",
    "  .sabaq-lesson .jp-Notebook .jp-Cell .jp-InputArea, .sabaq-lesson .jp-OutputArea-child { max-width: 100%; }",
    "  .sabaq-lesson .jp-RenderedHTMLCommon { padding-right: 0; }",
    "  .sabaq-lesson .jp-Toolbar { flex-wrap: wrap; }",
    "  .sabaq-lesson .widget-hbox { flex-wrap: wrap; }",
    /* a widget's margins count too: 100 % of the column less them */
    "  .sabaq-lesson .jupyter-widgets { max-width: calc(100% - 2 * var(--jp-widgets-margin, 2px)) !important; }",
    "  .sabaq-lesson .widget-hslider { flex-wrap: wrap; height: auto !important; }",
    "  .sabaq-lesson .widget-hslider > .widget-label { width: 100% !important; max-width: 100%; text-align: left; }",
    "  .sabaq-lesson .widget-hslider > .slider-container { flex: 1 1 0; }",
    /* long choices wrap; a collapsed cell's first line of code is cut, not scrolled */
    "  .sabaq-lesson .widget-checkbox { height: auto !important; }",
    "  .sabaq-lesson .widget-checkbox .widget-label-basic, .sabaq-lesson .widget-checkbox .widget-label-basic span, .sabaq-lesson .widget-radio-box label { white-space: normal; overflow-wrap: anywhere; height: auto; }",
    "  .sabaq-lesson .jp-Placeholder-content, .sabaq-lesson .jp-Placeholder-contentContainer { max-width: 100%; min-width: 0; overflow: hidden; }",
    "  .sabaq-lesson .jp-PlaceholderText { min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }",
    "  .sabaq-lesson .jp-NotebookPanel-toolbar .jp-Toolbar-item:not(:first-child) .jp-ToolbarButtonComponent { min-width: 36px; }",
    "}",
    /* a 28 px knob in a 44 px target: the ::after is what a finger hits */
    ".sabaq-lesson .widget-slider .noUi-handle { width: 28px !important; height: 28px !important; top: -12px !important; right: -14px !important; border-radius: 50% !important; }",
    ".sabaq-lesson .widget-slider .noUi-handle::after { content: ''; position: absolute; left: -9px; top: -9px; width: 44px; height: 44px; background: transparent; border: 0; }",
    ".sabaq-lesson .widget-slider, .sabaq-lesson .widget-hslider { min-height: 44px; align-items: center; }",
    ".sabaq-lesson .jupyter-button { min-height: 44px; min-width: 44px; }",
    ".sabaq-lesson .widget-radio-box label, .sabaq-lesson .widget-checkbox { min-height: 44px; display: flex; align-items: center; }",
    ".sabaq-lesson .widget-text input, .sabaq-lesson .widget-readout { min-height: 44px; font-size: 16px; }",
    ".sabaq-lesson img.widget-image { max-width: 100%; height: auto; }",
    ".nbgrader-mainarea-widget button, .nbgrader-mainarea-widget .btn { min-height: 44px; min-width: 44px; }"
  ].join("\n");

  function addStyle() {
    if (document.getElementById(STYLE_ID)) return;
    var style = document.createElement("style");
    style.id = STYLE_ID;
    style.textContent = CSS;
    document.head.appendChild(style);
  }

  /* The number keyboard: ipywidgets' Text has no inputmode, so it is set on the page. */
  function numberKeyboards(root) {
    var inputs = root.querySelectorAll ? root.querySelectorAll(".sabaq-number input") : [];
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].getAttribute("inputmode") !== "decimal") inputs[i].setAttribute("inputmode", "decimal");
    }
  }

  function watchInputs() {
    numberKeyboards(document);
    new MutationObserver(function () { numberKeyboards(document.body); })
      .observe(document.body, { childList: true, subtree: true });
  }

  /* Why a lesson did not start, for the phone check and a teacher reading the page
     (data-sabaq-lesson-error): the first set-up cell's error, else what it wrote to stderr,
     else the kernel's state (a kernel that died or restarted cancels the cells it ran). */
  function failureOf(notebook, setup, sessionContext) {
    var stderr = "";
    for (var i = 0; i < setup.length; i++) {
      var outputs = setup[i].model.outputs;
      var where = "cell " + (notebook.widgets.indexOf(setup[i]) + 1) + ": ";
      for (var j = 0; outputs && j < outputs.length; j++) {
        var out = outputs.get(j).toJSON();
        if (out.output_type === "error") {
          var trace = (out.traceback || []).join("\n").replace(/\u001b\[[0-9;]*m/g, "");
          return where + out.ename + ": " + out.evalue + "\n" + trace.slice(-1500);
        }
        if (!stderr && out.output_type === "stream" && out.name === "stderr") {
          stderr = where + String(Array.isArray(out.text) ? out.text.join("") : out.text).slice(-1500);
        }
      }
    }
    var kernel = sessionContext.session && sessionContext.session.kernel;
    return stderr || "no error output; the kernel is " + (kernel ? kernel.status : "missing");
  }

  /* The kernel's state on the panel while the lesson starts (data-sabaq-kernel): what a
     lesson that never started was waiting for. */
  function showKernel(panel) {
    var show = function () { panel.node.setAttribute("data-sabaq-kernel", panel.sessionContext.kernelDisplayStatus); };
    panel.sessionContext.statusChanged.connect(show);
    panel.sessionContext.connectionStatusChanged.connect(show);
    panel.sessionContext.kernelChanged.connect(show);
    show();
  }

  /* A kernel whose connection stays "connecting" is connected anew, as a reload would, until
     the lesson has started. Seen on a loaded machine: the server had accepted the kernel's
     websocket (101) but the page's socket never opened, and the lesson waited for minutes. A
     kernel still starting keeps the socket pending too (the server answers once the kernel
     does), so only one pending for STUCK_MS is asked again. */
  var STUCK_MS = 30000;
  function reconnectWhileStuck(panel) {
    var since = null;
    var timer = setInterval(function () {
      var session = panel.sessionContext.session;
      var kernel = session && session.kernel;
      if (panel.isDisposed || panel.node.getAttribute("data-sabaq-lesson") !== "starting") {
        clearInterval(timer);
      } else if (!kernel || kernel.connectionStatus !== "connecting") {
        since = null;
      } else if (since === null) {
        since = Date.now();
      } else if (Date.now() - since >= STUCK_MS) {
        since = null;
        console.warn("sabaq-lessons: the kernel's connection did not open; connecting again");
        kernel.reconnect().catch(function (err) { console.error("sabaq-lessons: reconnect failed", err); });
      }
    }, 1000);
  }

  function tagsOf(model) {
    var tags = model.getMetadata ? model.getMetadata("tags") : undefined;
    return Array.isArray(tags) ? tags : [];
  }

  /* How far the set-up has come, on the panel (data-sabaq-setup: "ran/all", "sent" once the
     cells went to the kernel): what a lesson that never started had done. */
  function showSetup(panel, setup, actions) {
    var ran = 0, sent = false;
    var show = function () { panel.node.setAttribute("data-sabaq-setup", ran + "/" + setup.length + (sent ? " sent" : "")); };
    var executed = function (_sender, args) {
      if (args.notebook === panel.content && setup.indexOf(args.cell) >= 0) { ran += 1; show(); }
    };
    if (actions.executed) actions.executed.connect(executed);
    show();
    return {
      sent: function () { sent = true; show(); },
      done: function () { if (actions.executed) actions.executed.disconnect(executed); }
    };
  }

  /* Run the lesson's set-up cells once, in order, as soon as its kernel is there. Only a
     notebook in ~/lessons/ (LESSONS), where nobody but its owner and sabaq's lesson delivery
     writes, is a lesson: elsewhere a tag is anyone's (a student's submission the teacher
     opens, a file someone shared), and their code must not run in this reader's kernel. */
  async function startLesson(panel, actions) {
    await panel.context.ready;
    var notebook = panel.content;
    if (panel.context.path.indexOf(LESSONS) !== 0) {
      panel.node.setAttribute("data-sabaq-lesson", "none");
      return;
    }
    var setup = notebook.widgets.filter(function (cell) {
      return cell.model.type === "code" && tagsOf(cell.model).indexOf(SETUP) >= 0;
    });
    if (!setup.length) {  // not a lesson, or one whose cells are not tagged
      panel.node.setAttribute("data-sabaq-lesson", "none");
      return;
    }
    panel.addClass("sabaq-lesson");
    panel.node.setAttribute("data-sabaq-lesson", "starting");
    showKernel(panel);
    reconnectWhileStuck(panel);
    var progress = showSetup(panel, setup, actions);
    await panel.sessionContext.ready;
    notebook.deselectAll();
    notebook.activeCellIndex = notebook.widgets.indexOf(setup[0]);
    setup.forEach(function (cell) { notebook.select(cell); });
    progress.sent();
    var ok = await actions.run(notebook, panel.sessionContext);
    progress.done();
    notebook.deselectAll();
    notebook.activeCellIndex = 0;  // the student starts reading at the top
    if (notebook.scrollToItem) await notebook.scrollToItem(0, "start");
    if (!ok) panel.node.setAttribute("data-sabaq-lesson-error", failureOf(notebook, setup, panel.sessionContext));
    panel.node.setAttribute("data-sabaq-lesson", ok ? "started" : "failed");
  }

  function lessonPlugin(nb) {
    return {
      id: "sabaq-lessons:start",
      description: "Runs a lesson's set-up cells when it opens.",
      autoStart: true,
      optional: [nb.INotebookTracker],  // a page without notebooks (the file list) has none
      activate: function (app, tracker) {
        if (!tracker) return;
        tracker.widgetAdded.connect(function (_sender, panel) {
          startLesson(panel, nb.NotebookActions).catch(function (err) {
            console.error("sabaq-lessons: the lesson did not start", err);
            panel.node.setAttribute("data-sabaq-lesson-error", String((err && err.stack) || err).slice(0, 1500));
            panel.node.setAttribute("data-sabaq-lesson", "failed");
          });
        });
      }
    };
  }

  /* nbgrader's plugin may activate after this one: wait for its command (up to a minute). */
  function openAssignments(app, tries) {
    if (app.commands.hasCommand(ASSIGNMENTS)) {
      app.commands.execute(ASSIGNMENTS);
    } else if (tries > 0) {
      setTimeout(function () { openAssignments(app, tries - 1); }, 500);
    } else {
      console.error("sabaq-lessons: nbgrader's assignment list is not installed");
    }
  }

  var pagePlugin = {
    id: "sabaq-lessons:page",
    description: "Touch-sized lesson widgets, number keyboards, the assignment list from a link.",
    autoStart: true,
    activate: function (app) {
      addStyle();
      watchInputs();
      if (new URLSearchParams(window.location.search).get("sabaq") === "assignments") {
        openAssignments(app, 120);
      }
    }
  };

  var shared = null;

  async function sharedModule(name) {
    var versions = (shared && shared[name]) || {};
    var keys = Object.keys(versions);
    if (!keys.length) return null;
    var factory = await versions[keys[keys.length - 1]].get();
    return factory();
  }

  var container = {
    init: function (scope) { shared = scope; return Promise.resolve(); },
    get: async function (module) {
      if (module !== "./extension") throw new Error("sabaq-lessons has no module " + module);
      var nb = await sharedModule("@jupyterlab/notebook");
      var plugins = [pagePlugin];
      if (nb && nb.INotebookTracker && nb.NotebookActions) plugins.push(lessonPlugin(nb));
      return function () { return { __esModule: true, default: plugins }; };
    }
  };

  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB["sabaq-lessons"] = container;
})();
