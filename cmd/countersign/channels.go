package main

import (
	"context"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/smtp"
	"github.com/countersign/countersign/core/twilio"
)

// channelFactory builds a tenant's own senders (core.ChannelFactory) with
// core/twilio and core/smtp, over the same HTTP client and trusted roots as
// the server's own channels (tests: the loopback fakes).
type channelFactory struct{ c Config }

// Interface guard.
var _ core.ChannelFactory = channelFactory{}

func (f channelFactory) twilio(t core.TwilioSettings) (*twilio.Client, error) {
	return twilio.New(twilio.Config{AccountSID: t.AccountSID, APIKeySID: t.APIKeySID, Secret: t.Secret, AuthToken: t.AuthToken,
		From: t.Number, MessagingServiceSID: t.MessagingServiceSID, HTTPClient: f.c.twilioHTTP})
}

func (f channelFactory) mailer(m core.EmailSettings) (*smtp.Mailer, error) {
	return smtp.New(smtp.Config{Host: m.Host, Port: m.Port, Username: m.Username, Password: m.Password,
		From: m.From, FromName: m.FromName, TLS: m.TLS, RootCAs: f.c.smtpRoots})
}

// SMS implements core.ChannelFactory.
func (f channelFactory) SMS(t core.TwilioSettings) (core.Sender, error) {
	c, err := f.twilio(t)
	if err != nil {
		return nil, err
	}
	return c.SMS(), nil
}

// Voice implements core.ChannelFactory.
func (f channelFactory) Voice(t core.TwilioSettings) (core.Sender, error) {
	c, err := f.twilio(t)
	if err != nil {
		return nil, err
	}
	return c.Voice(), nil
}

// Email implements core.ChannelFactory.
func (f channelFactory) Email(m core.EmailSettings) (core.Sender, error) {
	return f.mailer(m)
}

// CheckTwilio implements core.ChannelFactory.
func (f channelFactory) CheckTwilio(ctx context.Context, t core.TwilioSettings) error {
	c, err := f.twilio(t)
	if err != nil {
		return err
	}
	return c.Check(ctx)
}

// CheckEmail implements core.ChannelFactory.
func (f channelFactory) CheckEmail(ctx context.Context, m core.EmailSettings) error {
	ml, err := f.mailer(m)
	if err != nil {
		return err
	}
	return ml.Check(ctx)
}
