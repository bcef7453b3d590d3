package core

import (
	"context"
	"strings"
	"unicode/utf8"
)

// integrationAAD binds an integration's sealed config to its tenant and id,
// so a ciphertext copied onto another row does not open.
func integrationAAD(tenantID, id string) []byte {
	return []byte("integration\x00" + tenantID + "\x00" + id)
}

// PutIntegration creates or replaces an integration. Its Config (plaintext
// JSON) is sealed before it reaches the store, and the change is audited
// without the config: it holds API keys.
func (e *Engine) PutIntegration(ctx context.Context, tenantID, actor string, in Integration) (Integration, error) {
	in.TenantID = tenantID
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Kind == "":
		return Integration{}, Errorf(KindInvalid, "integration kind is required")
	case in.Name == "" || utf8.RuneCountInString(in.Name) > 100:
		return Integration{}, Errorf(KindInvalid, "integration name is required (at most 100 characters)")
	}
	if in.ID == "" {
		in.ID = NewID("int")
	}
	now := e.Now()
	if in.CreatedAt.IsZero() {
		in.CreatedAt = now
	}
	in.UpdatedAt = now
	sealed, err := e.cfg.Sealer.Seal(in.Config, integrationAAD(tenantID, in.ID))
	if err != nil {
		return Integration{}, err
	}
	row := in
	row.Config = sealed
	resumed := 0
	err = e.cfg.Store.Update(ctx, func(tx Tx) error {
		if err := tx.PutIntegration(ctx, &row); err != nil {
			return err
		}
		if err := e.audit(ctx, tx, tenantID, actor, AuditIntegrationSaved, in.ID, map[string]string{"kind": in.Kind, "name": in.Name}); err != nil {
			return err
		}
		// Saved settings may be the fix of a misconfigured integration:
		// the notes that waited for it are tried again at once (and wait
		// again after one request if they were not).
		var err error
		resumed, err = e.clearChannels(ctx, tx, tenantID, actor, "integration settings saved", PSAChannel(in.ID))
		return err
	})
	if err != nil {
		return Integration{}, err
	}
	if resumed > 0 {
		e.Wake()
	}
	return in, nil
}

// Integration returns an integration with its config opened.
func (e *Engine) Integration(ctx context.Context, tenantID, id string) (Integration, error) {
	var in Integration
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		in, err = tx.Integration(ctx, tenantID, id)
		return err
	})
	if err != nil {
		return Integration{}, err
	}
	return e.openIntegration(in)
}

// Integrations lists a tenant's integrations with their configs opened.
func (e *Engine) Integrations(ctx context.Context, tenantID string) ([]Integration, error) {
	var ins []Integration
	err := e.cfg.Store.View(ctx, func(tx Tx) error {
		var err error
		ins, err = tx.ListIntegrations(ctx, tenantID)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range ins {
		if ins[i], err = e.openIntegration(ins[i]); err != nil {
			return nil, err
		}
	}
	return ins, nil
}

func (e *Engine) openIntegration(in Integration) (Integration, error) {
	plain, err := e.cfg.Sealer.Open(in.Config, integrationAAD(in.TenantID, in.ID))
	if err != nil {
		return Integration{}, Errorf(KindInternal, "integration %s: its settings cannot be decrypted with the current master key", in.ID)
	}
	in.Config = plain
	return in, nil
}
