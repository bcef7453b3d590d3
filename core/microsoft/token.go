package microsoft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/countersign/countersign/core"
)

// tokens is one client-credentials token, fetched when missing or expired
// (oauth2.Token.Valid keeps a margin before the expiry) and dropped when
// the API refuses it. Fetches are serialised: concurrent callers wait for
// one token instead of asking for one each.
type tokens struct {
	what string // "Graph" or "connector", for errors
	cfg  clientcredentials.Config
	hc   *http.Client
	// cert, when set, authenticates each request with a fresh client
	// assertion instead of cfg.ClientSecret.
	cert *certCredential

	mu  sync.Mutex
	tok *oauth2.Token
}

func newGraphTokens(hc *http.Client, login string, cfg core.MicrosoftConfig, resource string) *tokens {
	return &tokens{what: "Graph", hc: hc, cfg: clientcredentials.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		TokenURL: login + "/oauth2/v2.0/token", Scopes: []string{resource + "/.default"},
		AuthStyle: oauth2.AuthStyleInParams,
	}}
}

// newConnectorTokens gets tokens for the connector as the MFA Client app
// (channels.md §3.2). With a certificate: the v2.0 endpoint, scope
// …/Connector/.default and a client assertion (what the AD FS adapter and
// NPS extension use; preferred). With a secret: the v1 endpoint and the
// connector's resource; scope=openid is redundant but sent by both public
// implementations.
func newConnectorTokens(hc *http.Client, login string, cfg core.MicrosoftConfig) (*tokens, error) {
	if cfg.ConnectorCert != "" {
		cert, err := parseCertCredential(cfg.ConnectorCert, cfg.ConnectorKey)
		if err != nil {
			return nil, err
		}
		return &tokens{what: "connector", hc: hc, cert: cert, cfg: clientcredentials.Config{
			ClientID: core.MFAClientAppID, TokenURL: login + "/oauth2/v2.0/token",
			Scopes: []string{ConnectorResource + "/.default"}, AuthStyle: oauth2.AuthStyleInParams,
		}}, nil
	}
	return &tokens{what: "connector", hc: hc, cfg: clientcredentials.Config{
		ClientID: core.MFAClientAppID, ClientSecret: cfg.ConnectorSecret,
		TokenURL: login + "/oauth2/token", Scopes: []string{"openid"},
		EndpointParams: url.Values{"resource": {ConnectorResource}},
		AuthStyle:      oauth2.AuthStyleInParams,
	}}, nil
}

// token returns a valid access token.
func (t *tokens) token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok.Valid() {
		return t.tok.AccessToken, nil
	}
	cfg := t.cfg
	if t.cert != nil {
		a, err := t.cert.assertion(cfg.ClientID, cfg.TokenURL, time.Now())
		if err != nil {
			return "", err
		}
		cfg.EndpointParams = url.Values{"client_assertion_type": {assertionType}, "client_assertion": {a}}
	}
	tok, err := cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, t.hc))
	if err != nil {
		return "", t.tokenError(ctx, err)
	}
	t.tok = tok
	return tok.AccessToken, nil
}

// drop forgets access, which the API refused; a newer token stays.
func (t *tokens) drop(access string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.AccessToken == access {
		t.tok = nil
	}
}

// aadError is the token endpoint's error body.
type aadError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
}

// tokenError turns a failed token request into a *core.MicrosoftError
// (Microsoft refused) or KindUnavailable (it could not be asked).
func (t *tokens) tokenError(ctx context.Context, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		if ctx.Err() != nil {
			return fmt.Errorf("microsoft: %s token: %w", t.what, ctx.Err())
		}
		return fmt.Errorf("microsoft: %s token: %w: %v", t.what, core.ErrUnavailable, scrub(err))
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	if status >= 500 {
		return fmt.Errorf("microsoft: %s token: %w: HTTP %d", t.what, core.ErrUnavailable, status)
	}
	var body aadError
	_ = json.Unmarshal(re.Body, &body) // a body that is not JSON leaves the codes out
	me := &core.MicrosoftError{HTTPStatus: status, Code: body.Error, Message: firstLine(body.Description)}
	if len(body.Codes) > 0 {
		me.Code = fmt.Sprintf("AADSTS%d", body.Codes[0])
	} else if i := strings.Index(body.Description, "AADSTS"); i >= 0 {
		end := i + 6
		for end < len(body.Description) && body.Description[end] >= '0' && body.Description[end] <= '9' {
			end++
		}
		me.Code = body.Description[i:end]
	}
	if me.Code == "" {
		me.Code = re.ErrorCode
	}
	if me.Message == "" {
		me.Message = "token request refused"
	}
	return fmt.Errorf("microsoft: %s token: %w", t.what, me)
}

// scrub keeps a transport error's text but not its URL's query (there is
// none with secrets in it today; this keeps it so).
func scrub(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " " + strings.SplitN(ue.URL, "?", 2)[0] + ": " + ue.Err.Error()
	}
	return err.Error()
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return core.ClipBytes(s, 300, "")
}
