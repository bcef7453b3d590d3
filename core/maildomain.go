package core

import "strings"

// publicMailDomains are mailbox providers anyone can sign up with. A
// client's contacts being mostly at one says nothing about who works
// there, so none of them is ever a client's usual domain (usualDomain):
// a first tray ticket from a new address at gmail.com must not make a
// contact in the client's PSA company, whatever its other contacts use.
// The list covers the large consumer providers; an MSP whose client's
// staff use another can still bind them by manual assignment or Register.
var publicMailDomains = map[string]bool{
	"gmail.com": true, "googlemail.com": true,
	"outlook.com": true, "hotmail.com": true, "live.com": true, "msn.com": true,
	"hotmail.co.uk": true, "outlook.co.uk": true, "live.co.uk": true,
	"yahoo.com": true, "yahoo.co.uk": true, "ymail.com": true, "rocketmail.com": true,
	"aol.com": true, "icloud.com": true, "me.com": true, "mac.com": true,
	"proton.me": true, "protonmail.com": true, "pm.me": true, "tutanota.com": true,
	"gmx.com": true, "gmx.net": true, "gmx.de": true, "web.de": true, "mail.com": true,
	"yandex.com": true, "yandex.ru": true, "mail.ru": true, "zoho.com": true,
	"fastmail.com": true, "hey.com": true, "qq.com": true, "163.com": true,
	"comcast.net": true, "verizon.net": true, "att.net": true, "btinternet.com": true,
	"orange.fr": true, "free.fr": true, "laposte.net": true, "libero.it": true,
	"t-online.de": true, "seznam.cz": true, "wp.pl": true, "o2.pl": true,
}

// isPublicMailDomain reports whether domain (any case) is a public mailbox
// provider's.
func isPublicMailDomain(domain string) bool {
	return publicMailDomains[strings.ToLower(strings.TrimSuffix(domain, "."))]
}
