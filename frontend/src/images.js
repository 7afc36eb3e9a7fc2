// Images are fetched and decoded off-screen before they are swapped in, so the viewer paints the
// new image in one frame instead of showing a blank canvas while it downloads.
// No crossOrigin: a plain <img> GET needs no CORS from S3 (and no preflight, which moto refuses).

export async function loadImage(url) {
  const img = new Image();
  img.src = url;
  await img.decode();
  return img;
}
