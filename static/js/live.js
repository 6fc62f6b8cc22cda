/* The live connection: a WebSocket to /ws that resumes after the last event it saw, so a phone
 * waking from sleep catches up; reconnects with exponential backoff and jitter. */
export class Live {
  constructor({ since = 0, onHealth = () => {} } = {}) {
    this.lastId = since;
    this.onHealth = onHealth;
    this.handlers = new Set();
    this.delay = 1000;
    this.socket = null;
    this.timer = null;
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !this.socket) this.connect();
    });
    window.addEventListener("online", () => { if (!this.socket) this.connect(); });
  }

  on(handler) { this.handlers.add(handler); }

  connect() {
    clearTimeout(this.timer);
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws?since=${this.lastId}`);
    this.socket = ws;
    ws.onopen = () => { this.delay = 1000; document.body.classList.add("live"); };
    ws.onmessage = (msg) => {
      let data;
      try { data = JSON.parse(msg.data); } catch (e) { return; }
      if (data.engine) this.onHealth(data.engine);
      if (data.type === "event") {
        this.lastId = Math.max(this.lastId, data.event.id);
        for (const h of this.handlers) h(data.event);
      }
    };
    ws.onclose = () => {
      document.body.classList.remove("live");
      this.socket = null;
      const wait = this.delay * (0.75 + Math.random() / 2);
      this.delay = Math.min(this.delay * 2, 30000);
      this.timer = setTimeout(() => this.connect(), wait);
    };
  }
}
