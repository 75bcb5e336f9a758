//go:build !drillbuild

package identity

// DrillBuild is false in the production build (`go build .`, `make
// build`): see build_drill.go.
const DrillBuild = false
