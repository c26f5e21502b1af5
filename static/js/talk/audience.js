// The audience: the read-only link to the run (/run/<run_id>), its QR code drawn by the page, and
// how many people watch (run_status.watchers). A card to show on the projector, a small "join"
// chip under the run card while presenting, and a count in the run card.

import { $, h, setAttr, setText, toast } from '../dom.js';
import { copyLink } from '../files.js';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);
const EYE = 'M1.5 10S4.8 4 10 4s8.5 6 8.5 6-3.3 6-8.5 6S1.5 10 1.5 10Zm8.5 2.7a2.7 2.7 0 1 0 0-5.4 2.7 2.7 0 0 0 0 5.4Z';

/** The audience link of a run: {url, host, path} ("/run/<id>" on this page's origin). */
export function audienceLink(location, runId) {
  const path = `/run/${encodeURIComponent(runId)}`;
  return { url: `${location.origin}${path}`, host: location.host, path };
}

/**
 * The audience: run_status counts every client in the run's room, the speaker's page among
 * them, so both the speaker and the audience see the number of people watching besides it.
 */
export function audienceSize(status) {
  const n = Number(status?.watchers);
  return Number.isFinite(n) ? Math.max(0, n - 1) : null;
}

function eye() {
  const icon = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  icon.setAttribute('viewBox', '0 0 20 20');
  icon.setAttribute('class', 'icon eye-icon');
  icon.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', EYE);
  path.setAttribute('fill', 'currentColor');
  path.setAttribute('fill-rule', 'evenodd');
  icon.append(path);
  return icon;
}

function watchersText(n) {
  return n === 1 ? '1 watching' : `${n ?? 0} watching`;
}

export class Audience {
  constructor(app) {
    this.app = app;
    this.runId = null;
    this.count = null;
    this.qr = null; // the qr.js module, loaded the first time a code is drawn
    // The count sits in the run card, beside the audience link.
    this.badge = h('span', { class: 'watchers-badge', dataset: { watchers: '0' }, hidden: true,
      title: 'People watching this run on their own screens (its audience link)' }, eye(), h('span', {}, ''));
    $('.run-meta')?.append(this.badge);
    this.card = null;
    this.chip = null;
  }

  get link() {
    return this.runId ? audienceLink(window.location, this.runId) : null;
  }

  /** Reflect the run: its id (the link) and its watchers. */
  update(run) {
    const runId = run?.runId || null;
    const count = audienceSize(run?.status);
    if (runId !== this.runId) {
      this.runId = runId;
      this.renderLink();
    }
    if (count !== this.count) {
      this.count = count;
      const text = watchersText(count);
      setText(this.badge.lastChild, text);
      setAttr(this.badge, 'data-watchers', count ?? 0);
      for (const el of document.querySelectorAll('[data-talk=watchers]')) {
        setText(el.lastChild, text);
        setAttr(el, 'data-watchers', count ?? 0);
      }
    }
    // An ended run has no live audience (the store says 0): no count then.
    const live = !['finished', 'stopped', 'failed'].includes(run?.status?.state);
    this.badge.hidden = !runId || count === null || !live;
  }

  /** A count element for another bar (presenter mode), kept up to date with the badge. */
  watchersElement() {
    return h('span', { class: 'watchers-badge is-large', dataset: { talk: 'watchers', watchers: this.count ?? 0 },
      title: 'People watching this run on their own screens' }, eye(), h('span', {}, watchersText(this.count)));
  }

  async loadQr() {
    this.qr = this.qr || await import('./qr.js');
    return this.qr;
  }

  /** The card for the projector: a large QR code, the short link, the watchers. */
  async open() {
    if (!this.runId) {
      toast(this.app.readOnly ? 'No run to link to.' : 'Start a run first (Space): the audience link shows that run.',
        { timeout: 4000 });
      return false;
    }
    if (!this.card) this.buildCard();
    this.card.hidden = false;
    await this.renderLink();
    this.card.querySelector('[data-talk=close-audience]').focus();
    return true;
  }

  close() {
    if (!this.card || this.card.hidden) return false;
    this.card.hidden = true;
    return true;
  }

  get isOpen() {
    return Boolean(this.card && !this.card.hidden);
  }

  buildCard() {
    const close = h('button', { type: 'button', class: 'btn', dataset: { talk: 'close-audience' },
      onclick: () => this.close() }, 'Close');
    const copy = h('button', { type: 'button', class: 'btn', onclick: () => this.copy() }, 'Copy link');
    const open = h('a', { class: 'btn', target: '_blank', rel: 'noopener', dataset: { talk: 'open-audience' } }, 'Open');
    this.card = h('div', { class: 'audience-overlay', role: 'dialog', 'aria-modal': 'true',
      'aria-label': 'Audience link', hidden: true },
    h('div', { class: 'audience-card' },
      h('div', { class: 'audience-qr' }, h('canvas', { class: 'qr-canvas', width: 1, height: 1 })),
      h('div', { class: 'audience-text' },
        h('p', { class: 'audience-kicker' }, 'Watch this run live on your phone'),
        h('p', { class: 'audience-url' }, h('span', { class: 'audience-host' }), h('span', { class: 'audience-path' })),
        h('p', { class: 'audience-note' }, 'Charts and pictures update as it trains. Read-only: nothing you do changes the run.'),
        h('p', { class: 'audience-warning', hidden: true }),
        h('div', { class: 'audience-foot' }, this.watchersElement(),
          h('div', { class: 'audience-actions' }, copy, open, close)))));
    this.card.addEventListener('click', (e) => { if (e.target === this.card) this.close(); });
    this.card.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        this.close();
        e.stopPropagation();
      }
    });
    document.body.append(this.card);
  }

  /** The join chip under the run card while presenting: a small code and the short link. */
  chipElement() {
    if (!this.chip) {
      this.chip = h('button', { type: 'button', class: 'talk-join', hidden: true,
        title: 'Show the audience link large (A)', onclick: () => this.open() },
      h('canvas', { class: 'qr-canvas', width: 1, height: 1 }),
      h('span', { class: 'talk-join-text' }, h('span', { class: 'talk-join-kicker' }, 'Watch live'),
        h('span', { class: 'talk-join-url' })));
      $('.side')?.append(this.chip);
      this.renderLink();
    }
    return this.chip;
  }

  async renderLink() {
    const link = this.link;
    if (this.chip) this.chip.hidden = !link;
    if (!link) {
      if (this.card) this.card.hidden = true;
      return;
    }
    const { drawQr } = await this.loadQr();
    if (this.link?.url !== link.url) return; // another run came meanwhile
    if (this.chip) {
      drawQr($('canvas', this.chip), link.url, 92);
      $('.talk-join-url', this.chip).replaceChildren(h('span', {}, link.host), h('span', {}, link.path));
    }
    if (this.card && !this.card.hidden) {
      const side = Math.min(420, Math.floor(window.innerHeight * 0.62));
      drawQr($('canvas', this.card), link.url, side);
      setText($('.audience-host', this.card), link.host);
      setText($('.audience-path', this.card), link.path);
      $('[data-talk=open-audience]', this.card).href = link.url;
      const warn = $('.audience-warning', this.card);
      const local = LOOPBACK.has(window.location.hostname);
      warn.hidden = !local;
      setText(warn, local ? `Phones cannot reach ${window.location.hostname}: start the server with `
        + '"layerlab serve --host 0.0.0.0" and open this page by the computer\'s network address.' : '');
    }
  }

  copy() {
    if (this.link) copyLink(this.link.url, 'Audience link copied: it shows this run, read-only');
  }
}
