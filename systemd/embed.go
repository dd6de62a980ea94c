// Package systemd holds funcd's systemd unit. The binary embeds it, so
// `funcd install` writes exactly the file in this directory.
package systemd

import _ "embed"

// Unit is funcd.service.
//
//go:embed funcd.service
var Unit []byte

// UnitName is the name the unit is installed under.
const UnitName = "funcd.service"
