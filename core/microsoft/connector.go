package microsoft

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/countersign/countersign/core"
)

// arraysNS is the namespace of the serialized string dictionary.
const arraysNS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"

// beginRequest is <BeginTwoWayAuthenticationRequest> (channels.md §3.3),
// in the order of the table there.
type beginRequest struct {
	XMLName                        xml.Name    `xml:"BeginTwoWayAuthenticationRequest"`
	Version                        string      `xml:"Version"`
	UserPrincipalName              string      `xml:"UserPrincipalName"`
	Lcid                           string      `xml:"Lcid"`
	AuthenticationMethodID         string      `xml:"AuthenticationMethodId"`
	AuthenticationMethodProperties methodProps `xml:"AuthenticationMethodProperties"`
	ContextID                      string      `xml:"ContextId"`
	SyncCall                       bool        `xml:"SyncCall"`
	RequireUserMatch               bool        `xml:"RequireUserMatch"`
	CallerName                     string      `xml:"CallerName"`
	CallerIP                       string      `xml:"CallerIP"`
}

type methodProps struct {
	Entries []keyValue `xml:"http://schemas.microsoft.com/2003/10/Serialization/Arrays KeyValueOfstringstring"`
}

type keyValue struct {
	Key   string `xml:"http://schemas.microsoft.com/2003/10/Serialization/Arrays Key"`
	Value string `xml:"http://schemas.microsoft.com/2003/10/Serialization/Arrays Value"`
}

// beginResponse is read by local names: Microsoft's answer carries
// namespaces that public clients ignore (channels.md §3.4).
type beginResponse struct {
	XMLName              xml.Name `xml:"BeginTwoWayAuthenticationResponse"`
	AuthenticationResult string   `xml:"AuthenticationResult"`
	Result               struct {
		Value   string `xml:"Value"`
		Message struct {
			Text string `xml:",chardata"`
			Nil  string `xml:"http://www.w3.org/2001/XMLSchema-instance nil,attr"`
		} `xml:"Message"`
	} `xml:"Result"`
	SessionID   string `xml:"SessionId"`
	AffinityURL string `xml:"AffinityUrl"`
}

// pushMethod is the only method Countersign challenges: without it the
// connector challenges the user's default method, which may be SMS or a
// code and then prompts no one (channels.md §3.7).
const pushMethod = "PhoneAppNotification"

// BeginTwoWay implements core.MicrosoftClient.
func (c *Client) BeginTwoWay(ctx context.Context, p core.MicrosoftPush) (core.MicrosoftResult, error) {
	if c.connector == nil {
		return core.MicrosoftResult{}, core.Errorf(core.KindInvalid, "no MFA connector credential (certificate or secret) is set for this tenant")
	}
	if p.UPN == "" || p.ContextID == "" {
		return core.MicrosoftResult{}, core.Errorf(core.KindInvalid, "a push needs the user's UPN and a context id")
	}
	lcid := p.Lcid
	if lcid == "" {
		lcid = c.lcid
	}
	body, err := xml.Marshal(beginRequest{
		Version: "1.0", UserPrincipalName: p.UPN, Lcid: lcid, AuthenticationMethodID: pushMethod,
		AuthenticationMethodProperties: methodProps{Entries: []keyValue{{Key: "OverrideVoiceOtp", Value: "false"}}},
		ContextID:                      p.ContextID, SyncCall: true, RequireUserMatch: true,
		// What every known caller sends; whether either is shown to the
		// user is unconfirmed (channels.md §3.3).
		CallerName: "radius", CallerIP: "UNKNOWN:",
	})
	if err != nil {
		return core.MicrosoftResult{}, fmt.Errorf("microsoft: connector: %w", err)
	}
	refreshed := false
	for {
		tok, err := c.connector.token(ctx)
		if err != nil {
			return core.MicrosoftResult{}, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.connectorURL+connectorPath, bytes.NewReader(body))
		if err != nil {
			return core.MicrosoftResult{}, fmt.Errorf("microsoft: connector: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/xml")
		resp, err := c.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return core.MicrosoftResult{}, fmt.Errorf("microsoft: connector: %w", ctx.Err())
			}
			return core.MicrosoftResult{}, fmt.Errorf("microsoft: connector: %w: %v", core.ErrUnavailable, scrub(err))
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return core.MicrosoftResult{}, fmt.Errorf("microsoft: connector: %w: %v", core.ErrUnavailable, err)
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized && !refreshed:
			c.connector.drop(tok)
			refreshed = true
			continue
		case resp.StatusCode >= 500:
			return core.MicrosoftResult{}, fmt.Errorf("microsoft: connector: %w: HTTP %d", core.ErrUnavailable, resp.StatusCode)
		case resp.StatusCode != http.StatusOK:
			return core.MicrosoftResult{}, fmt.Errorf("microsoft: connector: %w", &core.MicrosoftError{
				HTTPStatus: resp.StatusCode, Code: http.StatusText(resp.StatusCode), Message: firstLine(string(raw))})
		}
		var r beginResponse
		if err := xml.Unmarshal(raw, &r); err != nil {
			return core.MicrosoftResult{}, fmt.Errorf("microsoft: connector: %w: unreadable answer", core.ErrUnavailable)
		}
		ar := strings.TrimSpace(r.AuthenticationResult)
		out := core.MicrosoftResult{AuthenticationResult: ar == "true" || ar == "1", // xsd:boolean
			Value: r.Result.Value, SessionID: r.SessionID, Raw: string(raw)}
		if r.Result.Message.Nil != "true" {
			out.Message = r.Result.Message.Text
		}
		return out, nil
	}
}
