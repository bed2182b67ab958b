// sabaq in JupyterLab (issue 16): "My assignments" beside nbgrader's panel, and the sabaq menu.
//
// Everything comes from the server's /sabaq/status (sabaq.hub.exchange.status), which asks
// sabaq's service with the server's own token: this page holds no token and can only ever
// see its owner's work. Every string goes through JupyterLab's translator, domain sabaq_lab
// (catalogues: hub/exchange/locale/<locale>/LC_MESSAGES/sabaq_lab.json).

import { ICommandPalette } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { IMainMenu } from '@jupyterlab/mainmenu';
import { ServerConnection } from '@jupyterlab/services';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import { Menu, Widget } from '@lumino/widgets';

const DOMAIN = 'sabaq_lab';
const REFRESH_MS = 15000; // while the panel is shown: "received" and the score appear by themselves
const OPEN_PAGE = 'sabaq:open-page';
const SHOW_PANEL = 'sabaq:my-assignments';

const icon = new LabIcon({
  name: 'sabaq-lab:assignments',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24"><path class="jp-icon3" fill="#616161" ' +
    'd="M19 3h-4.2A3 3 0 0 0 12 1a3 3 0 0 0-2.8 2H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V5a2 2 0 0 0-2-2Zm-7 0a1 1 0 1 1 0 2 1 1 0 0 1 0-2Zm-2 14-4-4 1.4-1.4 2.6 2.6 6.6-6.6L18 9l-8 8Z"/></svg>'
});

/** The status of the server's owner, from the server extension. */
async function fetchStatus() {
  const settings = ServerConnection.makeSettings();
  const response = await ServerConnection.makeRequest(URLExt.join(settings.baseUrl, 'sabaq/status'), {}, settings);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.message || response.statusText);
  }
  return body;
}

/** "01.03.2030, 18:00 (UTC+5)": a moment in the course's zone, with its offset (the date in
 * digits: Chromium has no short Kazakh month names and wrote "2030 M03 1"). */
function localTime(iso, zone, locale, timeOnly) {
  const when = new Date(iso);
  const options = timeOnly
    ? { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: zone }
    : { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: zone };
  const text = new Intl.DateTimeFormat(locale, options).format(when);
  if (timeOnly) {
    return text;
  }
  const part = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'shortOffset' })
    .formatToParts(when)
    .find(p => p.type === 'timeZoneName');
  return `${text} (${(part ? part.value : 'GMT').replace('GMT', 'UTC')})`;
}

/** JupyterLab's locale ("kk_KZ", "ru-RU", "default") as Intl reads it ("kk-KZ"). */
function intlLocale(code) {
  const tag = String(code || 'en').replace('_', '-');
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch (error) {
    return 'en';
  }
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function link(url, text) {
  const a = element('a', 'sabaq-link', text);
  a.href = url;
  a.target = '_blank';
  a.rel = 'noopener';
  return a;
}

function number(value, locale) {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(value);
}

/** The "My assignments" panel: one card per assignment of the student's courses. */
class AssignmentsPanel extends Widget {
  constructor(trans, locale) {
    super();
    this.trans = trans;
    this.locale = locale;
    this.id = 'sabaq-assignments';
    this.addClass('sabaq-assignments');
    this.title.icon = icon;
    this.title.caption = trans.__('My assignments');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', trans.__('My assignments'));
    this.timer = 0;
    this.status = null;
    this.listeners = [];
  }

  /** Call `listener(status)` after each successful refresh (the menu's courses). */
  onStatus(listener) {
    this.listeners.push(listener);
  }

  async refresh() {
    try {
      this.status = await fetchStatus();
      this.render(this.status);
      this.listeners.forEach(listener => listener(this.status));
    } catch (error) {
      this.renderError(error.message);
    }
  }

  onAfterShow() {
    this.refresh();
    this.timer = window.setInterval(() => this.refresh(), REFRESH_MS);
  }

  onAfterHide() {
    window.clearInterval(this.timer);
  }

  header() {
    const trans = this.trans;
    const top = element('div', 'sabaq-header');
    top.appendChild(element('h2', '', trans.__('My assignments')));
    const button = element('button', 'jp-Button jp-mod-styled sabaq-refresh', trans.__('Refresh'));
    button.type = 'button';
    button.addEventListener('click', () => this.refresh());
    top.appendChild(button);
    return top;
  }

  renderError(message) {
    const trans = this.trans;
    this.node.replaceChildren(this.header());
    const error = element('p', 'sabaq-error', trans.__('sabaq could not be asked: %1', message));
    error.setAttribute('role', 'alert');
    this.node.appendChild(error);
  }

  render(status) {
    const trans = this.trans;
    this.node.replaceChildren(this.header());
    if (!status.assignments.length) {
      const staff = status.courses.some(c => c.gradebook);
      this.node.appendChild(element('p', 'sabaq-empty', staff
        ? trans.__('Your courses and gradebooks are in the sabaq menu.')
        : trans.__('No assignments yet.')));
    }
    const list = element('ul', 'sabaq-list');
    for (const row of status.assignments) {
      list.appendChild(this.card(row));
    }
    this.node.appendChild(list);
    const footer = element('p', 'sabaq-footer');
    footer.appendChild(link(status.pages.grades, trans.__('My grades')));
    this.node.appendChild(footer);
  }

  statusName(status) {
    const trans = this.trans;
    return {
      not_submitted: trans.__('not submitted'),
      received: trans.__('received'),
      graded: trans.__('graded'),
      feedback_released: trans.__('feedback released'),
      excused: trans.__('excused')
    }[status] || status;
  }

  card(row) {
    const trans = this.trans;
    const item = element('li', 'sabaq-card');
    item.dataset.course = row.course;
    item.dataset.assignment = row.assignment;
    item.dataset.status = row.status;
    item.appendChild(element('h3', 'sabaq-title', row.title));
    item.appendChild(element('div', 'sabaq-course', row.course_title));
    item.appendChild(element('div', 'sabaq-due', row.due_at
      ? trans.__('Due: %1', localTime(row.due_at, row.timezone, this.locale, false))
      : trans.__('No due date')));
    const state = element('div', `sabaq-status sabaq-status-${row.status}`, this.statusName(row.status));
    item.appendChild(state);
    if (row.attempt) {
      const received = element('div', 'sabaq-received', trans.__('received: attempt %1 at %2', row.attempt,
        localTime(row.received_at, row.timezone, this.locale, true)));
      received.title = localTime(row.received_at, row.timezone, this.locale, false);
      item.appendChild(received);
      if (row.late) {
        item.appendChild(element('div', 'sabaq-late', trans.__('late')));
      }
    }
    if (row.score !== null && row.score !== undefined) {
      item.appendChild(element('div', 'sabaq-score', trans.__('Score: %1 of %2', number(row.score, this.locale),
        number(row.max_score, this.locale))));
    }
    if (row.feedback.length) {
      const feedback = element('div', 'sabaq-feedback', trans.__('Feedback:') + ' ');
      row.feedback.forEach((f, i) => {
        if (i) {
          feedback.appendChild(document.createTextNode(', '));
        }
        feedback.appendChild(link(f.url, f.notebook));
      });
      item.appendChild(feedback);
    }
    return item;
  }
}

/** The sabaq menu: sabaq's own pages, each in a new tab; Gradebook only for a course's staff. */
function fillMenu(menu, status, trans) {
  menu.clearItems();
  menu.addItem({ command: SHOW_PANEL });
  menu.addItem({ command: OPEN_PAGE, args: { url: status.pages.grades, label: trans.__('My grades'), id: 'grades' } });
  const one = status.courses.length === 1;
  for (const course of status.courses) {
    menu.addItem({ type: 'separator' });
    const label = (plain, named) => (one ? plain : named);
    menu.addItem({ command: OPEN_PAGE, args: {
      url: course.url, id: `course-${course.id}`,
      label: label(trans.__('Course'), trans.__('Course: %1', course.title)) } });
    if (course.gradebook) {
      menu.addItem({ command: OPEN_PAGE, args: {
        url: course.gradebook, id: `gradebook-${course.id}`,
        label: label(trans.__('Gradebook'), trans.__('Gradebook: %1', course.title)) } });
    }
    menu.addItem({ command: OPEN_PAGE, args: {
      url: course.lessons, id: `lessons-${course.id}`,
      label: label(trans.__('Lessons'), trans.__('Lessons: %1', course.title)) } });
  }
}

const plugin = {
  id: 'sabaq-lab:plugin',
  description: 'My assignments and the sabaq menu.',
  autoStart: true,
  requires: [IMainMenu],
  optional: [ITranslator, ICommandPalette],
  activate: (app, mainMenu, translator, palette) => {
    translator = translator || nullTranslator;
    const trans = translator.load(DOMAIN);
    const locale = intlLocale(translator.languageCode || document.documentElement.lang);
    const panel = new AssignmentsPanel(trans, locale);
    app.shell.add(panel, 'left', { rank: 600 });

    app.commands.addCommand(OPEN_PAGE, {
      label: args => args.label || trans.__('sabaq'),
      execute: args => {
        window.open(args.url, '_blank', 'noopener');
      }
    });
    app.commands.addCommand(SHOW_PANEL, {
      label: trans.__('My assignments'),
      execute: () => app.shell.activateById(panel.id)
    });
    if (palette) {
      palette.addItem({ command: SHOW_PANEL, category: 'sabaq' });
    }

    const menu = new Menu({ commands: app.commands });
    menu.id = 'sabaq-menu';
    menu.title.label = trans.__('sabaq');
    mainMenu.addMenu(menu, true, { rank: 1000 });
    let shown = '';
    panel.onStatus(status => {
      const key = JSON.stringify([status.pages, status.courses]);
      if (key !== shown) { // rebuilt only when the courses change, never under an open menu's pointer
        shown = key;
        fillMenu(menu, status, trans);
      }
    });
    panel.refresh(); // the menu's courses even before the panel is opened
  }
};

export default plugin;
