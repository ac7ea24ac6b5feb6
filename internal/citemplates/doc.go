// Package citemplates holds tests for the shipped CI templates.
package citemplates
