"""Images in: presigned uploads (uploads), imports that make every file browser-ready (imports),
decoding and contrast (imaging), label masks <-> polygons (masks). With the export renderers,
the only code that imports numpy and Pillow, and only inside imaging and masks, loaded lazily."""
