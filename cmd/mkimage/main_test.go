package main

import (
	"reflect"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		want    options
		wantErr bool
	}{
		{
			args: []string{"-pkg", "./examples/hello", "-ref", "127.0.0.1:5000/hello:0.1", "-push"},
			want: options{pkg: "./examples/hello", ref: "127.0.0.1:5000/hello:0.1", push: true, format: "docker", entrypoint: "/hello"},
		},
		{
			args: []string{"-pkg", "x", "-ref", "r:1", "-tar", "o.tar", "-env", "A=1", "-env", "B=", "-entrypoint", "/fn", "-user", "1:1"},
			want: options{pkg: "x", ref: "r:1", tar: "o.tar", format: "docker", env: listFlag{"A=1", "B="}, entrypoint: "/fn", user: "1:1"},
		},
		{
			args: []string{"-pkg", "x", "-ref", "r:1", "-tar", "o.tar", "-format", "oci", "-entrypoint", "/fn"},
			want: options{pkg: "x", ref: "r:1", tar: "o.tar", format: "oci", entrypoint: "/fn"},
		},
		{args: []string{"-pkg", "x", "-ref", "r:1", "-tar", "o.tar", "-format", "zip"}, wantErr: true},
		{args: []string{"-pkg", "x", "-ref", "r:1"}, wantErr: true},
		{args: []string{"-ref", "r:1", "-push"}, wantErr: true},
		{args: []string{"-pkg", "x", "-push"}, wantErr: true},
		{args: []string{"-pkg", "x", "-ref", "r:1", "-push", "-env", "NOEQUALS"}, wantErr: true},
		{args: []string{"-pkg", "x", "-ref", "r:1", "-push", "extra"}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseFlags(tt.args)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseFlags(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseFlags(%q) = %+v, want %+v", tt.args, got, tt.want)
		}
	}
}
