// The Kaibu viewer, driven over ImJoy RPC exactly as the original Cloud Annotator did:
// view_image, add_shapes(client_config) -> layer with add_features / get_features, and a control
// widget carrying the Save / Submit / Skip buttons. imjoy-core and imjoy-rpc are copied from npm
// into vendor/ at build time, so nothing is fetched from a CDN.

const VENDOR = new URL("vendor/", document.baseURI).href;
const POLL_MS = 3000;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`Could not load ${src}`));
    document.head.append(s);
  });
}

export class KaibuViewer {
  /**
   * @param {HTMLElement} target the element Kaibu's window (an iframe) goes into
   * @param {{kaibuUrl: string, clientConfig: object, buttons: {save, submit, skip}}} options
   */
  constructor(target, { kaibuUrl, clientConfig, buttons }) {
    this.target = target;
    this.kaibuUrl = kaibuUrl;
    this.clientConfig = clientConfig;
    this.buttons = buttons;
    this.listeners = [];
    this.layer = null;
    this.lastJson = null;
    this.label = clientConfig.draw_label;
  }

  /** Open Kaibu; rejects if it has not answered over RPC within timeoutMs (offline, blocked). */
  async ready(timeoutMs) {
    if (!window.imjoyCore) await loadScript(`${VENDOR}imjoy-core.min.js`);
    const imjoy = new window.imjoyCore.ImJoy({ imjoy_api: {}, default_rpc_base_url: VENDOR });
    await imjoy.start({ workspace: null });
    // An unreachable window never connects and imjoy-core never gives up on it: we do.
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Kaibu did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const opening = imjoy.pm.createWindow(null, { src: this.kaibuUrl, name: "Kaibu", window_id: this.target.id });
    this.kaibu = await Promise.race([opening, timeout]).finally(() => clearTimeout(timer));
    await this.kaibu.add_widget({
      _rintf: true,
      name: "Annotation",
      type: "control",
      elements: [
        { type: "button", label: "Save draft", callback: () => this.buttons.save() },
        { type: "button", label: "Submit", callback: () => this.buttons.submit() },
        { type: "button", label: "Skip", callback: () => this.buttons.skip() },
      ],
    });
    // Kaibu has no change event over RPC; polling keeps the local safety copy current.
    setInterval(() => this.poll(), POLL_MS);
  }

  async show(url, _width, _height, annotation) {
    this.layer = null;
    await this.kaibu.clear_layers();
    await this.kaibu.view_image(url, { name: "image", type: "2d-image" });
    this.layer = await this.kaibu.add_shapes([], { ...this.clientConfig, draw_label: this.label, name: "annotation" });
    if (annotation?.features?.length) await this.layer.add_features(annotation);
    this.lastJson = JSON.stringify(await this.getAnnotation());
  }

  async getAnnotation() {
    const fc = this.layer ? await this.layer.get_features() : null;
    return { type: "FeatureCollection", features: (fc && fc.features) || [] };
  }

  onChange(cb) {
    this.listeners.push(cb);
  }

  /** New shapes get this label; Kaibu takes it when the next layer is created. */
  setLabel(label) {
    this.label = label;
  }

  async poll() {
    if (!this.layer) return;
    const json = JSON.stringify(await this.getAnnotation());
    if (json === this.lastJson) return;
    this.lastJson = json;
    for (const cb of this.listeners) cb("change");
  }
}
