// Kaibu's draw_freehand, as its annotators know it: press and drag draws an outline in one stroke,
// while a click adds a vertex like the polygon tool, so a click is never silently ignored.
// Sits in front of a click-mode polygon Draw and feeds it through Draw's public appendCoordinates.

import PointerInteraction from "ol/interaction/Pointer";

const CLICK_TOLERANCE_PX = 6;

export class FreehandDrag extends PointerInteraction {
  /** @param {import("ol/interaction/Draw").default} draw  @param {() => boolean} isSketching */
  constructor(draw, isSketching) {
    super();
    this.draw = draw;
    this.isSketching = isSketching;
    this.reset();
  }

  reset() {
    this.start = null;
    this.dragging = false;
  }

  handleDownEvent(e) {
    if (this.targetPointers.length > 1) {
      // A second finger: this is a pinch or a two-finger pan, not a stroke.
      if (this.dragging) this.draw.abortDrawing();
      this.reset();
      return false;
    }
    if (this.isSketching()) return false; // a polygon is being clicked: the Draw takes it from here
    this.start = { pixel: e.pixel, coordinate: e.coordinate };
    return true;
  }

  handleDragEvent(e) {
    if (!this.start) return;
    if (!this.dragging) {
      const [dx, dy] = [e.pixel[0] - this.start.pixel[0], e.pixel[1] - this.start.pixel[1]];
      if (dx * dx + dy * dy <= CLICK_TOLERANCE_PX ** 2) return;
      this.dragging = true;
      this.draw.appendCoordinates([this.start.coordinate]);
    }
    this.draw.appendCoordinates([e.coordinate]);
  }

  handleUpEvent() {
    if (this.dragging) this.draw.finishDrawing();
    else if (this.start) this.draw.appendCoordinates([this.start.coordinate]); // a click: first vertex
    this.reset();
    return false;
  }
}
