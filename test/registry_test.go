package e2e

import (
	"github.com/funcd/funcd/internal/imagebuild"
	"github.com/funcd/funcd/test/testenv"
)

// testImages are the images TestMain pushes to the test registry, built
// from packages of this module.
var testImages = []testenv.Image{
	{Ref: "testfn:v1", Pkg: "test/testfn", Config: imagebuild.Config{Entrypoint: "/testfn", Env: []string{"VERSION=v1"}}},
	{Ref: "testfn:v2", Pkg: "test/testfn", Config: imagebuild.Config{Entrypoint: "/testfn", Env: []string{"VERSION=v2"}}},
	{Ref: "testfn:nobody", Pkg: "test/testfn", Config: imagebuild.Config{Entrypoint: "/testfn", User: "65534:65534"}},
	{Ref: "testsvc:v1", Pkg: "test/testsvc", Config: imagebuild.Config{Entrypoint: "/testsvc"}},
	{Ref: "hello:0.1", Pkg: "examples/hello", Config: imagebuild.Config{Entrypoint: "/hello"}},
}

// imageRef returns the reference of an image in the test registry, e.g.
// imageRef("testfn:v1") = "127.0.0.1:PORT/testfn:v1".
func imageRef(nameTag string) string {
	if h == nil || h.Registry == nil {
		panic("imageRef called without the e2e environment; call requireE2E first")
	}
	return h.Registry.Ref(nameTag)
}
