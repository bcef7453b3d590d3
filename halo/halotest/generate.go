package halotest

// The contract extract in halo/testdata: see halo/internal/extract. Run it
// from a checkout with shared/ beside the module, or with COUNTERSIGN_SHARED
// set to shared/'s path.
//go:generate go run ../internal/extract -shared-env COUNTERSIGN_SHARED -in ../../../shared/contracts/halo/swagger.json -out ../testdata/contract.json
