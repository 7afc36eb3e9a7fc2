// Kaibu's feature format, read and written by the built-in viewer. The map's coordinates ARE the
// stored coordinates: the image sits on extent [0, 0, W, H] in a pixel projection, so
// x = column and y = H - row (y up), with no transform in between. Keeping the projection trivial
// is what makes a half-flipped annotation impossible here.

import GeoJSON from "ol/format/GeoJSON";

const format = new GeoJSON();
const EMPTY = { type: "FeatureCollection", features: [] };

export function readFeatures(featureCollection) {
  return format.readFeatures(featureCollection || EMPTY);
}

export function writeFeatureCollection(features) {
  const fc = format.writeFeaturesObject(features, { decimals: 2 });
  // OpenLayers writes "properties": null for bare features; Kaibu and our API expect an object.
  for (const f of fc.features) f.properties = f.properties || {};
  return { type: "FeatureCollection", features: fc.features };
}
