// Package camera reads frames from a Linux V4L2 capture device (a USB
// camera) as grey images, so that a ceremony step can scan the animated QR
// code another machine shows.
//
// It talks to the kernel directly with ioctls (golang.org/x/sys/unix, no
// cgo; the structures and numbers are internal/v4l2's): VIDIOC_QUERYCAP to list capture devices by card name, VIDIOC_S_FMT
// to choose a pixel format, memory-mapped streaming (or read() where a
// driver offers only that). Only luminance is kept: a QR decoder needs
// nothing else, and a grey frame is a third of the memory of a colour one.
// GREY and the YUV formats are preferred because their luminance is copied,
// not computed; MJPEG is decoded with image/jpeg when that is all a camera
// offers.
//
// Frames are delivered at a bounded rate, always the newest one the driver
// holds (older queued frames are dropped, so a slow decoder never falls
// behind the sender). The package never writes to the device, never keeps
// more than one converted frame, and knows nothing of QR codes or of the
// GUI.
package camera
