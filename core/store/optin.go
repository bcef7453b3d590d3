package store

import (
	"context"
	"time"

	"github.com/countersign/countersign/core"
)

// Interface guard.
var _ core.OptInTx = (*tx)(nil)

const optInFormCols = `id, tenant_id, contact_id, destination_id, phone, channel, sent_to, token_hash, created_by,
	created_at, expires_at, used_at, consented, consented_phone`

func scanOptInForm(sc interface{ Scan(...any) error }) (core.OptInForm, error) {
	var (
		f  core.OptInForm
		ch string
	)
	err := sc.Scan(&f.ID, &f.TenantID, &f.ContactID, &f.DestinationID, &f.Phone, &ch, &f.SentTo, &f.TokenHash, &f.CreatedBy,
		tcol(&f.CreatedAt), tcol(&f.ExpiresAt), tcol(&f.UsedAt), &f.Consented, &f.ConsentedPhone)
	f.Channel = core.OptInChannel(ch)
	return f, err
}

// CreateOptInForm implements core.OptInTx; an empty f.ID gets a fresh id.
func (t *tx) CreateOptInForm(ctx context.Context, f *core.OptInForm) error {
	newID(&f.ID, "opt")
	normTimes(&f.CreatedAt, &f.ExpiresAt, &f.UsedAt)
	_, err := t.exec(ctx, `INSERT INTO optin_forms (`+optInFormCols+`) VALUES (`+placeholders(14)+`)`,
		f.ID, f.TenantID, f.ContactID, f.DestinationID, f.Phone, string(f.Channel), f.SentTo, f.TokenHash, f.CreatedBy,
		f.CreatedAt, f.ExpiresAt, f.UsedAt, f.Consented, f.ConsentedPhone)
	return wrap(err, "create opt-in form")
}

// OptInFormByHash implements core.OptInTx.
func (t *tx) OptInFormByHash(ctx context.Context, tenantID string, hash []byte) (core.OptInForm, error) {
	f, err := scanOptInForm(t.queryRow(ctx, `SELECT `+optInFormCols+` FROM optin_forms WHERE tenant_id = ? AND token_hash = ?`, tenantID, hash))
	return f, wrap(err, "get opt-in form")
}

// UseOptInForm implements core.OptInTx: one conditional update decides, so
// two answers racing on PostgreSQL cannot both win.
func (t *tx) UseOptInForm(ctx context.Context, f *core.OptInForm) error {
	normTimes(&f.UsedAt)
	res, err := t.exec(ctx, `UPDATE optin_forms SET used_at = ?, consented = ?, consented_phone = ?
		WHERE tenant_id = ? AND id = ? AND used_at IS NULL`, f.UsedAt, f.Consented, f.ConsentedPhone, f.TenantID, f.ID)
	if err != nil {
		return wrap(err, "use opt-in form %s", f.ID)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(err, "use opt-in form %s", f.ID)
	}
	if n != 1 {
		return core.Errorf(core.KindConflict, "this form was answered already; nothing was changed")
	}
	return nil
}

// CountOptInForms implements core.OptInTx.
func (t *tx) CountOptInForms(ctx context.Context, tenantID, contactID string, since time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM optin_forms WHERE tenant_id = ? AND contact_id = ? AND created_at >= ?`,
		tenantID, contactID, normTime(since)).Scan(&n)
	return n, wrap(err, "count opt-in forms")
}

// PutSMSOptIn implements core.OptInTx.
func (t *tx) PutSMSOptIn(ctx context.Context, o *core.SMSOptIn) error {
	normTimes(&o.ConsentedAt)
	_, err := t.exec(ctx, `INSERT INTO sms_optins (tenant_id, phone, contact_id, form_id, consented_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, phone) DO UPDATE SET contact_id = excluded.contact_id, form_id = excluded.form_id,
			consented_at = excluded.consented_at`,
		o.TenantID, o.Phone, o.ContactID, o.FormID, o.ConsentedAt)
	return wrap(err, "put sms opt-in")
}

// phoneArgs returns the query arguments tenantID, phones… with phones
// de-duplicated.
func phoneArgs(tenantID string, phones []string) []any {
	seen := map[string]bool{}
	args := []any{tenantID}
	for _, p := range phones {
		if !seen[p] {
			seen[p] = true
			args = append(args, p)
		}
	}
	return args
}

// SMSConsents implements core.OptInTx: both tables in one statement.
func (t *tx) SMSConsents(ctx context.Context, tenantID string, phones []string) (map[string]core.SMSOptIn, map[string]core.SMSOptOut, error) {
	ins, outs := map[string]core.SMSOptIn{}, map[string]core.SMSOptOut{}
	if len(phones) == 0 {
		return ins, outs, nil
	}
	args := phoneArgs(tenantID, phones)
	n := len(args) - 1
	args = append(args, args...)
	rows, err := t.query(ctx, `SELECT 'in', phone, contact_id, form_id, FALSE, consented_at FROM sms_optins
			WHERE tenant_id = ? AND phone IN (`+placeholders(n)+`)
		UNION ALL
		SELECT 'out', phone, keyword, '', opted_out, changed_at FROM sms_optouts
			WHERE tenant_id = ? AND phone IN (`+placeholders(n)+`)`, args...)
	if err != nil {
		return nil, nil, wrap(err, "list sms consents")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			which, phone, a, b string
			out                bool
			at                 time.Time
		)
		if err := rows.Scan(&which, &phone, &a, &b, &out, tcol(&at)); err != nil {
			return nil, nil, wrap(err, "list sms consents")
		}
		if which == "in" {
			ins[phone] = core.SMSOptIn{TenantID: tenantID, Phone: phone, ContactID: a, FormID: b, ConsentedAt: at}
		} else {
			outs[phone] = core.SMSOptOut{TenantID: tenantID, Phone: phone, OptedOut: out, Keyword: a, ChangedAt: at}
		}
	}
	return ins, outs, wrap(rows.Err(), "list sms consents")
}

// OptInSettings implements core.OptInTx.
func (t *tx) OptInSettings(ctx context.Context, tenantID string) (core.OptInSettings, error) {
	s := core.OptInSettings{TenantID: tenantID}
	err := t.queryRow(ctx, `SELECT allow_correction, updated_at, updated_by FROM optin_settings WHERE tenant_id = ?`, tenantID).
		Scan(&s.AllowCorrection, tcol(&s.UpdatedAt), &s.UpdatedBy)
	return s, wrap(err, "get opt-in settings")
}

// PutOptInSettings implements core.OptInTx.
func (t *tx) PutOptInSettings(ctx context.Context, s *core.OptInSettings) error {
	normTimes(&s.UpdatedAt)
	_, err := t.exec(ctx, `INSERT INTO optin_settings (tenant_id, allow_correction, updated_at, updated_by) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET allow_correction = excluded.allow_correction, updated_at = excluded.updated_at,
			updated_by = excluded.updated_by`,
		s.TenantID, s.AllowCorrection, s.UpdatedAt, s.UpdatedBy)
	return wrap(err, "put opt-in settings")
}
