package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/countersign/countersign/core"
)

// Check asks Twilio whether the account can send: it fetches the account
// (GET /2010-04-01/Accounts/{sid}.json), which must be active, and looks up
// the From number among the account's numbers
// (GET …/IncomingPhoneNumbers.json?PhoneNumber=…), which must exist and be
// able to send SMS. It is the settings page's live check; each failure is a
// core error whose message says what to fix.
func (c *Client) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	svc := c.api(ctx)
	acct, err := svc.FetchAccount(c.cfg.AccountSID)
	if err != nil {
		return checkError(ctx, "fetch account", err)
	}
	if acct.Status != nil && *acct.Status != "active" {
		return core.Errorf(core.KindInvalid, "the Twilio account %s is %s, not active; reactivate it in the Twilio console", c.cfg.AccountSID, *acct.Status)
	}
	if c.cfg.From == "" {
		return nil // a Messaging Service picks the sender
	}
	p := &api.ListIncomingPhoneNumberParams{}
	p.SetPhoneNumber(c.cfg.From).SetLimit(20)
	nums, err := svc.ListIncomingPhoneNumber(p)
	if err != nil {
		return checkError(ctx, "look up number", err)
	}
	for _, n := range nums {
		if n.PhoneNumber == nil || *n.PhoneNumber != c.cfg.From {
			continue
		}
		if n.Capabilities != nil && !n.Capabilities.Sms {
			return core.Errorf(core.KindInvalid, "%s cannot send SMS; choose a number with SMS capability", c.cfg.From)
		}
		return nil
	}
	return core.Errorf(core.KindInvalid, "%s is not a number of Twilio account %s; buy or port it there, or enter one of the account's numbers", c.cfg.From, c.cfg.AccountSID)
}

// checkError words a failed check for the admin.
func checkError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return core.Errorf(core.KindUnavailable, "Twilio did not answer in time; try again")
	}
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		switch {
		case rest.Code == 20003 || rest.Status == http.StatusUnauthorized:
			return core.Errorf(core.KindInvalid, "Twilio rejected the credentials (error 20003): check the account SID and the auth token or API key")
		case rest.Status == http.StatusNotFound:
			return core.Errorf(core.KindInvalid, "Twilio does not know this account (error %d): check the account SID", rest.Code)
		}
		return core.Errorf(core.KindUnavailable, "Twilio answered error %d while checking (%s); try again", rest.Code, op)
	}
	return fmt.Errorf("twilio: check: %s: %w", op, core.Errorf(core.KindUnavailable, "Twilio could not be reached; try again"))
}
