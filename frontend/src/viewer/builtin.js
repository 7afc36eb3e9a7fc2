// The built-in viewer: OpenLayers (the engine Kaibu is built on) with the image as a static layer
// on a pixel projection and one vector layer for the annotation. Drawing tools, selection, vertex
// editing, delete and undo/redo live here; the page talks to it through a small interface shared
// with the Kaibu adapter (show / getAnnotation / onChange).

import Map from "ol/Map";
import View from "ol/View";
import ImageLayer from "ol/layer/Image";
import VectorLayer from "ol/layer/Vector";
import Static from "ol/source/ImageStatic";
import VectorSource from "ol/source/Vector";
import Projection from "ol/proj/Projection";
import { getCenter } from "ol/extent";
import { defaults as defaultInteractions } from "ol/interaction/defaults";
import Draw, { createBox } from "ol/interaction/Draw";
import Modify from "ol/interaction/Modify";
import Select from "ol/interaction/Select";
import { click, never } from "ol/events/condition";
import { Circle as CircleStyle, Fill, Stroke, Style } from "ol/style";
import { MultiPoint } from "ol/geom";
import { FreehandDrag } from "./freehandDrag.js";
import { History } from "./history.js";
import { readFeatures, writeFeatureCollection } from "./kaibuGeoJSON.js";

const DRAW_TYPES = {
  polygon: { type: "Polygon", freehandCondition: never },
  freehand: { type: "Polygon", freehandCondition: never }, // strokes come from FreehandDrag
  rectangle: { type: "Circle", geometryFunction: createBox() },
  point: { type: "Point" },
  line: { type: "LineString", freehandCondition: never },
};

export class BuiltinViewer {
  /**
   * @param {HTMLElement} target element the map fills
   * @param {{colors: Object<string,string>, label: string}} options
   */
  constructor(target, { colors, label }) {
    this.colors = colors;
    this.label = label;
    this.history = new History();
    this.listeners = [];
    this.source = new VectorSource();
    this.vectorLayer = new VectorLayer({ source: this.source, style: (f) => this.styleFor(f, f === this.justDrawn) });
    this.imageLayer = new ImageLayer();
    this.map = new Map({
      target,
      layers: [this.imageLayer, this.vectorLayer],
      // Double-click finishes a polygon; it must not also zoom.
      interactions: defaultInteractions({ doubleClickZoom: false }),
      controls: [],
    });
    // Plain click (not singleclick): selection shows at once instead of after the double-click wait.
    this.select = new Select({ condition: click, layers: [this.vectorLayer], hitTolerance: 6, style: (f) => this.styleFor(f, true) });
    this.modify = new Modify({ features: this.select.getFeatures() });
    this.modify.on("modifyend", () => this.committed());
    this.select.on("select", () => this.emit("selection", this.selectedLabel()));
    this.map.addInteraction(this.select);
    this.map.addInteraction(this.modify);
    this.draw = null;
    this.freehand = null;
    this.sketching = false;
    this.tool = "select";
    this.editable = true;
    // The shape just drawn is shown as selected (as Kaibu does) and a label chosen now applies to it.
    this.justDrawn = null;
    this.select.on("select", () => this.setJustDrawn(null));
  }

  // ---- the interface shared with the Kaibu adapter -------------------------------------------

  /**
   * Show a new image (already decoded, so this paints at once) and its annotation; resolves once
   * the map has painted both.
   */
  show(url, width, height, annotation) {
    const painted = new Promise((resolve) => this.map.once("rendercomplete", resolve));
    const extent = [0, 0, width, height];
    const projection = new Projection({ code: `image-${width}x${height}`, units: "pixels", extent });
    this.imageLayer.setSource(new Static({ url, projection, imageExtent: extent }));
    const view = new View({ projection, center: getCenter(extent), extent: [-width, -height, 2 * width, 2 * height] });
    this.map.setView(view);
    this.extent = extent;
    this.fit();
    this.setTool(this.tool); // a new projection needs fresh draw interactions
    this.load(annotation);
    this.history.reset(this.snapshot());
    return painted;
  }

  getAnnotation() {
    return writeFeatureCollection(this.source.getFeatures());
  }

  /** cb(event, detail): "change" after every committed edit, "selection" with the selected label. */
  onChange(cb) {
    this.listeners.push(cb);
  }

  // ---- tools and editing -----------------------------------------------------------------------

  setTool(tool) {
    if (this.draw) this.map.removeInteraction(this.draw);
    if (this.freehand) this.map.removeInteraction(this.freehand);
    this.draw = null;
    this.freehand = null;
    this.sketching = false;
    this.setJustDrawn(null);
    this.tool = tool;
    const drawing = tool !== "select";
    if (drawing) {
      this.select.getFeatures().clear();
      this.draw = new Draw({ source: this.source, style: (f) => this.sketchStyle(f), ...DRAW_TYPES[tool] });
      this.draw.on("drawstart", () => {
        this.sketching = true;
        this.setJustDrawn(null);
      });
      this.draw.on("drawabort", () => (this.sketching = false));
      this.draw.on("drawend", (e) => {
        this.sketching = false;
        e.feature.setProperties({ label: this.label, edge_color: this.colors[this.label] });
        this.setJustDrawn(e.feature);
        // drawend fires before the feature is added to the source
        setTimeout(() => this.committed(), 0);
      });
      this.map.addInteraction(this.draw);
      if (tool === "freehand") {
        this.freehand = new FreehandDrag(this.draw, () => this.isSketching());
        this.map.addInteraction(this.freehand); // added last, so it sees each press first
      }
    }
    this.setEditable(this.editable);
  }

  /** Off while the image is being submitted: nothing drawn then could be kept. */
  setEditable(editable) {
    this.editable = editable;
    if (!editable) this.abortSketch();
    const drawing = this.tool !== "select";
    this.select.setActive(editable && !drawing);
    this.modify.setActive(editable && !drawing);
    this.draw?.setActive(editable);
    this.freehand?.setActive(editable);
  }

  /** Label for new shapes; with relabel, the selected shapes take it too. */
  setLabel(label, { relabel = true } = {}) {
    this.label = label;
    const selected = this.select.getFeatures().getArray();
    const targets = selected.length ? selected : this.justDrawn && this.source.hasFeature(this.justDrawn) ? [this.justDrawn] : [];
    if (!relabel || !this.editable || !targets.length) return;
    for (const f of targets) f.setProperties({ label, edge_color: this.colors[label] });
    this.committed();
  }

  deleteSelected() {
    if (!this.editable) return false;
    const selected = this.select.getFeatures().getArray().slice();
    if (!selected.length) return false;
    this.select.getFeatures().clear();
    for (const f of selected) this.source.removeFeature(f);
    this.committed();
    return true;
  }

  /** True while a shape is half drawn (Enter then finishes it instead of submitting). */
  isSketching() {
    return Boolean(this.draw && this.sketching);
  }
  finishSketch() {
    this.draw?.finishDrawing();
  }
  abortSketch() {
    this.draw?.abortDrawing();
  }

  undo() {
    if (!this.editable) return;
    if (this.isSketching()) return this.draw.removeLastPoint();
    const snapshot = this.history.undo();
    if (snapshot) this.restore(snapshot);
  }
  redo() {
    if (!this.editable) return;
    const snapshot = this.history.redo();
    if (snapshot) this.restore(snapshot);
  }

  fit() {
    if (this.extent) this.map.getView().fit(this.extent, { padding: [24, 24, 24, 24] });
  }
  zoom(delta) {
    const view = this.map.getView();
    view.animate({ zoom: view.getZoom() + delta, duration: 150 });
  }

  // ---- internals -----------------------------------------------------------------------------

  setJustDrawn(feature) {
    if (this.justDrawn === feature) return;
    this.justDrawn = feature;
    this.vectorLayer?.changed();
  }
  load(annotation) {
    this.setJustDrawn(null);
    this.select.getFeatures().clear();
    this.source.clear();
    this.source.addFeatures(readFeatures(annotation));
  }
  snapshot() {
    return JSON.stringify(this.getAnnotation());
  }
  restore(snapshot) {
    this.load(JSON.parse(snapshot));
    this.emit("change");
  }
  committed() {
    this.history.record(this.snapshot());
    this.emit("change");
  }
  emit(event, detail) {
    for (const cb of this.listeners) cb(event, detail);
  }
  selectedLabel() {
    const f = this.select.getFeatures().item(0);
    return f ? f.get("label") : null;
  }

  styleFor(feature, selected) {
    const color = this.colors[feature.get("label")] || feature.get("edge_color") || "#0BF737";
    const stroke = new Stroke({ color, width: selected ? 3 : 2 });
    const styles = [
      new Style({
        stroke,
        fill: new Fill({ color: hexAlpha(color, selected ? 0.28 : 0.14) }),
        image: new CircleStyle({ radius: selected ? 7 : 5, fill: new Fill({ color }), stroke: new Stroke({ color: "#111", width: 1.5 }) }),
      }),
    ];
    if (selected) styles.push(vertexStyle(feature, color));
    return styles;
  }
  sketchStyle(feature) {
    const color = this.colors[this.label] || "#0BF737";
    return [
      new Style({
        stroke: new Stroke({ color, width: 2, lineDash: [6, 4] }),
        fill: new Fill({ color: hexAlpha(color, 0.1) }),
        image: new CircleStyle({ radius: 5, fill: new Fill({ color }), stroke: new Stroke({ color: "#111", width: 1 }) }),
      }),
      vertexStyle(feature, color),
    ];
  }
}

/** Small squares on every vertex, so editable points are visible. */
function vertexStyle(feature, color) {
  return new Style({
    image: new CircleStyle({ radius: 3.5, fill: new Fill({ color: "#fff" }), stroke: new Stroke({ color, width: 1.5 }) }),
    geometry: () => {
      const g = feature.getGeometry();
      if (!g || g.getType() === "Point") return null;
      const coords = g.getType() === "Polygon" ? g.getCoordinates()[0] : g.getType() === "LineString" ? g.getCoordinates() : [];
      return new MultiPoint(coords);
    },
  });
}

function hexAlpha(hex, alpha) {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex || "");
  if (!m) return `rgba(11,247,55,${alpha})`;
  const n = parseInt(m[1], 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${alpha})`;
}
