//go:build !linux || !(amd64 || arm64 || riscv64)

package camera

import (
	"context"
	"image"
)

// List reports that cameras are not read on this platform.
func List() ([]Device, error) { return nil, ErrUnsupported }

// ListIn reports that cameras are not read on this platform.
func ListIn(string) ([]Device, error) { return nil, ErrUnsupported }

// Camera is not available on this platform.
type Camera struct{}

// Open reports that cameras are not read on this platform.
func Open(string, Options) (*Camera, error) { return nil, ErrUnsupported }

// Next reports that cameras are not read on this platform.
func (*Camera) Next(context.Context) (*image.Gray, error) { return nil, ErrUnsupported }

// Device is empty on this platform.
func (*Camera) Device() Device { return Device{} }

// Layout is empty on this platform.
func (*Camera) Layout() Layout { return Layout{} }

// Close does nothing on this platform.
func (*Camera) Close() error { return nil }
