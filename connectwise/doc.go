// Package connectwise will hold the ConnectWise PSA (formerly ConnectWise
// Manage) plugin: the REST client implementing the core/psa capabilities
// (contacts by communication item, service tickets and notes, companies,
// member identity from a Hosted API pod's member hash), the Hosted API pod
// embedding and its postMessage protocol, signed callbacks, and its
// Descriptor. Its fake server, held to the vendor contract, will live in
// connectwise/cwtest. Facts: shared/reference/connectwise.md.
package connectwise
