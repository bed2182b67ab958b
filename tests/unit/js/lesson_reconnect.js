// Drives sabaq-lessons' lesson plugin in Node with stand-ins for JupyterLab's objects and a
// clock of its own: a lesson whose kernel connection stays "connecting" is connected anew.
// Prints what happened as JSON (tests/unit/test_lesson_reconnect.py reads it).
const fs = require("fs");
const vm = require("vm");

const [source, stuckSeconds] = [process.argv[2], Number(process.argv[3])];
let now = 0;
const intervals = [];
const signal = () => ({ connect() {} });
const kernel = {
  connectionStatus: "connecting", status: "unknown", reconnects: 0,
  reconnect() { this.reconnects += 1; return Promise.resolve(); },
};
const attributes = {};
const setupCell = { model: { type: "code", getMetadata: () => ["sabaq:setup"] } };
let ready;
const panel = {
  isDisposed: false,
  node: { setAttribute: (k, v) => { attributes[k] = v; }, getAttribute: (k) => attributes[k] },
  addClass() {},
  context: { ready: Promise.resolve(), path: "lessons/demo/ohms-law/ohms-law.en.ipynb" },
  content: { widgets: [setupCell], deselectAll() {}, select() {}, activeCellIndex: 0 },
  sessionContext: {
    session: { kernel }, kernelDisplayStatus: "connecting", ready: new Promise((r) => { ready = r; }),
    statusChanged: signal(), connectionStatusChanged: signal(), kernelChanged: signal(),
  },
};
let added;
const nb = {
  INotebookTracker: {},
  NotebookActions: { run: async () => true },
};
const window = { location: { search: "" } };
const context = {
  window, console, URLSearchParams, Promise, Date: { now: () => now },
  setInterval: (fn, ms) => { intervals.push({ fn, ms }); return intervals.length - 1; },
  clearInterval: (id) => { intervals[id] = null; },
  setTimeout: () => 0, document: {},
};
vm.runInNewContext(fs.readFileSync(source, "utf8"), context);

(async () => {
  const container = window._JUPYTERLAB["sabaq-lessons"];
  await container.init({ "@jupyterlab/notebook": { "4": { get: async () => () => nb } } });
  const plugins = (await container.get("./extension"))().default;
  const lesson = plugins.find((p) => p.id === "sabaq-lessons:start");
  lesson.activate({}, { widgetAdded: { connect: (fn) => { added = fn; } } });
  added(null, panel);
  await new Promise((r) => setImmediate(r));
  const tick = async (seconds) => {
    for (let i = 0; i < seconds; i++) {
      now += 1000;
      for (const t of intervals) if (t) t.fn();
      await new Promise((r) => setImmediate(r));
    }
  };
  await tick(stuckSeconds);
  const whileStuck = kernel.reconnects;
  kernel.connectionStatus = "connected";
  ready();
  await tick(5);
  await tick(120);
  console.log(JSON.stringify({ whileStuck, after: kernel.reconnects, lesson: attributes["data-sabaq-lesson"],
                               watching: intervals.filter(Boolean).length }));
})();
