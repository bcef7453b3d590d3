// Package kaseya will hold the Kaseya BMS plugin: the REST client
// implementing the core/psa capabilities, per-ticket deep links to our
// console (BMS has no embedding), and its Descriptor. Its fake server will
// live in kaseya/kaseyatest. Facts: shared/reference/kaseya-bms.md.
package kaseya
