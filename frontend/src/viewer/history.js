// Undo/redo over whole-annotation snapshots. Annotations are small (hundreds of shapes at most),
// so a snapshot per edit is simpler and safer than inverting each kind of edit.

export class History {
  constructor(limit = 200) {
    this.limit = limit;
    this.reset(null);
  }
  reset(snapshot) {
    this.past = snapshot ? [snapshot] : [];
    this.future = [];
  }
  record(snapshot) {
    if (this.past[this.past.length - 1] === snapshot) return;
    this.past.push(snapshot);
    if (this.past.length > this.limit) this.past.shift();
    this.future = [];
  }
  undo() {
    if (this.past.length < 2) return null;
    this.future.push(this.past.pop());
    return this.past[this.past.length - 1];
  }
  redo() {
    if (!this.future.length) return null;
    const snapshot = this.future.pop();
    this.past.push(snapshot);
    return snapshot;
  }
}
