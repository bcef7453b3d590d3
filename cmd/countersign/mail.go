package main

import (
	"github.com/countersign/countersign/core/smtp"
)

// newMailer builds the SMTP sender from c.
func newMailer(c Config) (*smtp.Mailer, error) {
	return smtp.New(smtp.Config{Host: c.SMTPHost, Port: c.SMTPPort, Username: c.SMTPUsername, Password: c.SMTPPassword,
		From: c.SMTPFrom, FromName: c.SMTPFromName, TLS: c.SMTPTLS, Auth: c.SMTPAuth, RootCAs: c.smtpRoots})
}
