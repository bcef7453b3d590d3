package main

import (
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/microsoft"
)

// microsoftConnector opens Microsoft 365 clients (Graph and the MFA
// connector) with the server's options: Microsoft's public cloud unless a
// test points them at its fake.
func microsoftConnector(c Config) core.MicrosoftConnector {
	var opts microsoft.Options
	if c.microsoft != nil {
		opts = *c.microsoft
	}
	return microsoft.Connector(opts)
}
