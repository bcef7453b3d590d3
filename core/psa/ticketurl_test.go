package psa_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

func TestTicketURL(t *testing.T) {
	tk := psa.Ticket{Ref: "701", Number: "T2025/01 x"}
	assert.Equal(t, "https://bms.example/#/ticket/701?n=T2025%2F01%20x", psa.TicketURL("https://bms.example/#/ticket/{id}?n={number}", tk))
	assert.Empty(t, psa.TicketURL("", tk))
	assert.NoError(t, psa.ValidateTicketURL("ticket URL", ""))
	assert.NoError(t, psa.ValidateTicketURL("ticket URL", "https://acme.example/tickets/{id}"))
	for _, bad := range []string{"http://acme.example/{id}", "https://acme.example/tickets", "javascript:alert(1)//{id}", "https://u:p@acme.example/{id}", "/tickets/{id}"} {
		assert.ErrorIs(t, psa.ValidateTicketURL("ticket URL", bad), core.ErrInvalid, bad)
	}
}
