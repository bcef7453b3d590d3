package core

// Audit action names. Every audit write names its action with one of these
// constants (the verification events use their EventType), so that the log's
// vocabulary is listed in one place and filters in the console cannot drift
// from what is written.
const (
	// AuditTenantCreated: a tenant made from the command line.
	AuditTenantCreated = "tenant.created"

	// Technicians.
	AuditTechnicianCreated       = "technician.created"
	AuditTechnicianUpdated       = "technician.updated"
	AuditTechnicianPasswordReset = "technician.password_reset"
	AuditTechnicianTOTPReset     = "technician.totp_reset"
	AuditTechnicianTOTPEnrolled  = "technician.totp_enrolled"
	AuditTechnicianDisabled      = "technician.disabled"
	AuditTechnicianEnabled       = "technician.enabled"
	AuditTechnicianSignedOut     = "technician.sessions_revoked"
	AuditTechnicianLogin         = "technician.login"
	AuditTechnicianLoginFailed   = "technician.login_failed"

	// Clients and contacts.
	AuditClientCreated  = "client.created"
	AuditClientUpdated  = "client.updated"
	AuditClientDeleted  = "client.deleted"
	AuditContactCreated = "contact.created"
	AuditContactUpdated = "contact.updated"
	AuditContactDeleted = "contact.deleted"
	// Verifications, besides their events (EventType): the end user
	// confirmed a link or declined it; a wrong code or answer counted.
	AuditVerificationLinkConfirmed = "verification.link_confirmed"
	AuditVerificationDeclined      = "verification.declined"
	AuditVerificationFailedAttempt = "verification.failed_attempt"
	// AuditVerificationLockReset: an admin reset the contact's channels
	// locked by consecutive failures (detail: each channel's count before).
	AuditVerificationLockReset = "verification.lock_reset"

	// AuditContactRefreshed: the local mirror of a PSA contact was
	// refreshed from the PSA because it was stale.
	AuditContactRefreshed = "contact.refreshed"

	// Policies.
	AuditPolicyUpdated = "policy.updated"
	AuditPolicyDeleted = "policy.deleted"

	// Delivery: a channel refused a send because it is set up wrongly
	// (credentials, sender), and the admin fixed it.
	AuditChannelMisconfigured = "channel.misconfigured"
	AuditChannelFixed         = "channel.fixed"

	// PSA tickets: a new ticket's policy wanted a verification sent on
	// its own and none could be (EventTicketAdded records the ticket).
	AuditTicketAutoSendFailed = "ticket.auto_send_failed"

	// Duo (duo.go, duo_push.go): accounts saved, live-checked and
	// removed; a contact's Duo username set by an admin or found by the
	// matcher; a push Duo refused before sending (unavailable, in words);
	// a push's answer from Duo; an answer that came after the
	// verification had ended; a denial or fraud report raised as an alert.
	AuditDuoSaved        = "duo.account_saved"
	AuditDuoChecked      = "duo.account_checked"
	AuditDuoDeleted      = "duo.account_deleted"
	AuditDuoUserMapped   = "duo.user_mapped"
	AuditPushUnavailable = "push.unavailable"
	AuditPushAnswered    = "push.answered"
	AuditPushLate        = "push.late_answer"
	AuditPushAlert       = "push.alert"

	// Microsoft 365 (microsoft_connect.go, microsoft_push.go): a client's
	// tenant connected (after the live check), checked and removed; its
	// users imported; a user matched to a contact by an admin; a user's
	// registered methods found changed at push time; an admin consent
	// started and answered. Pushes use the push.* actions above.
	AuditMicrosoftSaved          = "microsoft.connection_saved"
	AuditMicrosoftChecked        = "microsoft.connection_checked"
	AuditMicrosoftDeleted        = "microsoft.connection_deleted"
	AuditMicrosoftImported       = "microsoft.users_imported"
	AuditMicrosoftMethodsChanged = "microsoft.user_methods_changed"
	AuditMicrosoftUserMatched    = "microsoft.user_matched"
	AuditMicrosoftCertGenerated  = "microsoft.connector_cert_generated"
	AuditMicrosoftConsentStarted = "microsoft.consent_started"
	AuditMicrosoftConsented      = "microsoft.consented"

	// Pods: a PSA member signed in to a pod, or was linked to a
	// technician; a technician created a contact in the PSA from a pod, or
	// made one the contact of a ticket.
	AuditPodMemberSignedIn   = "pod.member_signed_in"
	AuditPodMemberLinked     = "pod.member_linked"
	AuditPodContactCreated   = "pod.contact_created"
	AuditPodTicketContactSet = "pod.ticket_contact_set"

	// Branding and the tenant's own message templates.
	AuditBrandingUpdated        = "branding.updated"
	AuditBrandingLogoUpdated    = "branding.logo_updated"
	AuditBrandingLogoRemoved    = "branding.logo_removed"
	AuditMessageTemplateUpdated = "message_template.updated"
	AuditMessageTemplateReset   = "message_template.reset"

	// Integrations: one saved (detail: kind, name); PSA-side setup run
	// from the console (the callbacks
	// that report new tickets, the pod entries on the PSA's screens).
	AuditIntegrationSaved               = "integration.saved"
	AuditIntegrationCallbacksRegistered = "integration.callbacks_registered"
	AuditIntegrationCallbacksFailed     = "integration.callbacks_failed"
	AuditIntegrationPodsInstalled       = "integration.pods_installed"

	// Agents and harvesters (agent_engine.go): a client's activation key
	// made or replaced; a device activated with it, revoked, and a revoked
	// device's credential presented again.
	AuditAgentKeyCreated            = "agent.activation_key.created"
	AuditAgentKeyRotated            = "agent.activation_key.rotated"
	AuditAgentActivated             = "agent.activated"
	AuditAgentRevoked               = "agent.revoked"
	AuditAgentRevokedCredentialUsed = "agent.revoked_credential_used"
	// Workstation prompts (prompt.go): an answer from another device or
	// user refused; the user pressed "This is not me".
	AuditPromptAnswerRefused = "prompt.answer_refused"
	AuditPromptDenied        = "prompt.denied"
	// The tray's "Verify my technician" (techcheck.go): the Windows user
	// said a listed technician is the person working with them, or is not
	// (an alert to the on-call group); an answer refused (detail: reason)
	// or over the hourly limit.
	AuditTechCheckConfirmed    = "techverify.tray_confirmed"
	AuditTechCheckNotThePerson = "techverify.not_the_person"
	AuditTechCheckRefused      = "techverify.tray_refused"
	AuditTechCheckRateLimited  = "techverify.tray_rate_limited"

	// The directory (directory.go). AuditDirectorySynced: a harvester
	// uploaded a sync (detail: counts). AuditDirectoryMatchAccepted /
	// Rejected: a person decided a match. AuditBindingRemoved: a rejected
	// match took away the binding its acceptance had made (detail: sid,
	// contact).
	AuditDirectorySynced        = "directory.synced"
	AuditDirectoryMatchAccepted = "directory.match_accepted"
	AuditDirectoryMatchRejected = "directory.match_rejected"
	AuditBindingRemoved         = "binding.removed"
	// AuditDirectoryNotice: a password-expiry or lock-out notice was
	// queued (notices.go; detail: kind, days, channels, sms_refused).
	AuditDirectoryNotice = "directory.notice_queued"

	// Self-serve (selfserve.go, welcome.go): the tenant's settings and the
	// per-user switch; an admin cleared a user's wrong-code lockout of the
	// self-serve page; the welcome e-mail sent, the user's registration,
	// and a mobile number the user said is not theirs.
	AuditSelfServeSettings       = "selfserve.settings_updated"
	AuditSelfServeEnabled        = "selfserve.enabled"
	AuditSelfServeDisabled       = "selfserve.disabled"
	AuditSelfServeLockoutCleared = "selfserve.lockout_cleared"
	AuditSelfServeWelcomeSent    = "selfserve.welcome_sent"
	AuditSelfServeRegistered     = "selfserve.registered"
	AuditSelfServeMobileDisputed = "selfserve.mobile_disputed"

	// The end user's reset page (selfserve_reset.go): codes sent and
	// wrong; resets and unlocks asked for and their results;
	// AuditSelfServeResetRefused: the code was right, but the client's
	// policy requires more than a text message before a reset.
	AuditSelfServeCodeSent        = "selfserve.code_sent"
	AuditSelfServeCodeFailed      = "selfserve.code_failed"
	AuditSelfServeResetRequested  = "selfserve.reset_requested"
	AuditSelfServeUnlockRequested = "selfserve.unlock_requested"
	AuditSelfServeRequestDone     = "selfserve.request_done"
	AuditSelfServeRequestFailed   = "selfserve.request_failed"
	AuditSelfServeResetRefused    = "selfserve.reset_refused"

	// Technician resets and unlocks (techdirectory.go): asked for, and
	// the harvester's results.
	AuditDirectoryResetRequested  = "directory.reset_requested"
	AuditDirectoryUnlockRequested = "directory.unlock_requested"
	AuditDirectoryRequestDone     = "directory.request_done"
	AuditDirectoryRequestFailed   = "directory.request_failed"

	// Directory resets and unlocks (techdirectory.go, selfserve_reset.go,
	// directory_expiry.go). AuditDirectoryRequestRefused: a
	// technician's reset or unlock was refused (detail: action, reason —
	// one of the Refused… constants — and the words the technician saw).
	// AuditDirectoryRequestExpired and AuditSelfServeRequestExpired: a
	// technician's or an end user's request failed because the harvester
	// never fetched its task before the task expired.
	// AuditDirectoryRequestUnreported and AuditSelfServeRequestUnreported:
	// the harvester fetched the task and did not report within
	// DirectoryReportLease, so the request failed with an unknown outcome;
	// AuditDirectoryLateResult and AuditSelfServeLateResult: its report
	// came after all, and amended the request.
	AuditDirectoryRequestRefused    = "directory.request_refused"
	AuditDirectoryRequestExpired    = "directory.request_expired"
	AuditSelfServeRequestExpired    = "selfserve.request_expired"
	AuditDirectoryRequestUnreported = "directory.request_unreported"
	AuditSelfServeRequestUnreported = "selfserve.request_unreported"
	AuditDirectoryLateResult        = "directory.late_result"
	AuditSelfServeLateResult        = "selfserve.late_result"

	// Notification groups and on-call (notify.go).
	AuditNotifyGroupCreated = "notify.group_created"
	AuditNotifyGroupUpdated = "notify.group_updated"
	AuditNotifyGroupDeleted = "notify.group_deleted"
	AuditNotifyUserAdded    = "notify.user_added"
	AuditNotifyUserUpdated  = "notify.user_updated"
	AuditNotifyUserRemoved  = "notify.user_removed"
	AuditNotifyTimeZone     = "notify.time_zone"
	// AuditNotifySent: an event was sent to the users on call (detail:
	// event, how many messages, to whom); AuditNotifyNobody: nobody was on
	// call for it.
	AuditNotifySent   = "notify.sent"
	AuditNotifyNobody = "notify.nobody_on_call"

	// SMS opt-in forms (optin.go): a form sent (detail: form, channel,
	// masked destination, whether a PSA note was queued); the end user's
	// consent or refusal; a mobile number they corrected (written back to
	// the PSA); the tenant's settings changed.
	AuditOptInSent            = "sms_optin.sent"
	AuditOptInConsented       = "sms_optin.consented"
	AuditOptInDeclined        = "sms_optin.declined"
	AuditOptInPhoneCorrected  = "sms_optin.phone_corrected"
	AuditOptInSettingsUpdated = "sms_optin.settings_updated"
)
