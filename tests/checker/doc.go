// Package checker checks the properties every actorcpg fault test checks
// (DESIGN.md, "Properties every fault test checks") on a recorded history.
package checker
