package cib

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Alerts are Pacemaker's alert agents (pcs alert): an executable the
// cluster calls with the event in CRM_alert_* environment variables, once
// per recipient; or, Tandem's addition, a webhook that receives the same
// event as a JSON POST. They are part of the model, so `tandem alert ...`
// changes them like any other part of the live configuration. Running them
// is host/alerts' business.

// Alert is one alert agent or webhook.
type Alert struct {
	ID string `json:"id"`
	// Path is the agent's executable, an absolute path on every node; or
	// Webhook is an http(s) URL. Exactly one is set.
	Path        string `json:"path,omitempty"`
	Webhook     string `json:"webhook,omitempty"`
	Description string `json:"description,omitempty"`
	// Options are the agent's instance attributes, passed as environment
	// variables of the same names (Pacemaker's), and as "options" in a
	// webhook's JSON.
	Options    map[string]string `json:"options,omitempty"`
	Meta       AlertMeta         `json:"meta,omitzero"`
	Recipients []Recipient       `json:"recipients,omitempty"`
	// Select is Pacemaker's <select>: the kinds of event (AlertKinds) the
	// alert is called for; empty, every kind.
	Select []string `json:"select,omitempty"`
}

// AlertKinds are the kinds of event an alert can select: node events
// (members coming and going: Pacemaker's select_nodes) and resource
// events (operations: select_resources). Tandem raises no fencing and no
// node-attribute alerts (Pacemaker's select_fencing, select_attributes).
var AlertKinds = []string{"nodes", "resources"}

// Selects says whether the alert is called for events of kind (one of
// AlertKinds).
func (a *Alert) Selects(kind string) bool {
	return len(a.Select) == 0 || slices.Contains(a.Select, kind)
}

// selectProblem says what is wrong with an alert's Select ("" nothing).
func selectProblem(sel []string) string {
	seen := map[string]bool{}
	for _, k := range sel {
		switch {
		case k == "fencing" || k == "attributes":
			return fmt.Sprintf("select %q: Tandem raises no %s alerts (it fences with leases, and node attributes raise no events); select %s", k, map[string]string{"fencing": "fencing", "attributes": "node-attribute"}[k], strings.Join(AlertKinds, " and/or "))
		case !slices.Contains(AlertKinds, k):
			return fmt.Sprintf("select %q is not a kind of event: want %s%s", k, strings.Join(AlertKinds, " or "), DidYouMean(k, AlertKinds))
		case seen[k]:
			return fmt.Sprintf("select %q is given twice", k)
		}
		seen[k] = true
	}
	return ""
}

// Recipient is one recipient of an alert: the agent is called once for
// each, with CRM_alert_recipient set to Value.
type Recipient struct {
	ID    string    `json:"id"`
	Value string    `json:"value"`
	Meta  AlertMeta `json:"meta,omitzero"`
}

// AlertMeta are the meta attributes of an alert or a recipient (a
// recipient's own win over its alert's).
type AlertMeta struct {
	// Timeout bounds one call of the agent (or one POST with its retries);
	// 0 is DefaultAlertTimeout.
	Timeout time.Duration `json:"timeout,omitempty"`
	// TimestampFormat is CRM_alert_timestamp's strftime format; "" is
	// DefaultTimestampFormat.
	TimestampFormat string `json:"timestamp-format,omitempty"`
	// Enabled false turns the alert (or the recipient) off; nil is true.
	Enabled *bool `json:"enabled,omitempty"`
}

// The alert defaults are Pacemaker's.
const (
	DefaultAlertTimeout    = 30 * time.Second
	DefaultTimestampFormat = "%H:%M:%S.%06N"
)

// AlertMetaKeys are the meta attributes of an alert or a recipient.
var AlertMetaKeys = []string{"timeout", "timestamp-format", "enabled"}

// AlertKeys are the keys of `alert create` and `alert update` besides
// options and meta.
var AlertKeys = []string{"id", "path", "webhook", "description"}

// Alert returns the alert called id, or nil.
func (c *CIB) Alert(id string) *Alert {
	for i := range c.Alerts {
		if c.Alerts[i].ID == id {
			return &c.Alerts[i]
		}
	}
	return nil
}

// AlertIDs lists the alerts' ids in configuration order.
func (c *CIB) AlertIDs() []string {
	ids := make([]string, len(c.Alerts))
	for i, a := range c.Alerts {
		ids[i] = a.ID
	}
	return ids
}

// MustAlert is Alert, or an error naming the alerts there are.
func (c *CIB) MustAlert(id string) (*Alert, error) {
	if a := c.Alert(id); a != nil {
		return a, nil
	}
	known := strings.Join(c.AlertIDs(), ", ")
	if known == "" {
		known = "none"
	}
	return nil, fmt.Errorf("no alert %q%s (alerts: %s)", id, DidYouMean(id, c.AlertIDs()), known)
}

// Effective is the meta of recipient r of alert a (nil: the alert called
// without recipient), defaults applied.
func (a *Alert) Effective(r *Recipient) AlertMeta {
	m := AlertMeta{Timeout: DefaultAlertTimeout, TimestampFormat: DefaultTimestampFormat, Enabled: a.Meta.Enabled}
	layers := []AlertMeta{a.Meta}
	if r != nil {
		layers = append(layers, r.Meta)
	}
	for _, l := range layers {
		if l.Timeout > 0 {
			m.Timeout = l.Timeout
		}
		if l.TimestampFormat != "" {
			m.TimestampFormat = l.TimestampFormat
		}
	}
	on := a.Meta.Enabled == nil || *a.Meta.Enabled
	if r != nil && r.Meta.Enabled != nil {
		on = on && *r.Meta.Enabled
	}
	m.Enabled = &on
	return m
}

// SetAlertMeta sets meta attribute key of m from its text; "" unsets it.
func SetAlertMeta(m *AlertMeta, key, value string) error {
	switch key {
	case "timeout":
		if value == "" {
			m.Timeout = 0
			return nil
		}
		d, err := ParseDuration(value)
		if err != nil {
			return fmt.Errorf("meta timeout: %w", err)
		}
		if d <= 0 {
			return fmt.Errorf("meta timeout=%s: an alert needs a timeout above 0", value)
		}
		m.Timeout = d
	case "timestamp-format":
		if _, err := FormatTimestamp(value, time.Time{}); err != nil {
			return fmt.Errorf("meta timestamp-format: %w", err)
		}
		m.TimestampFormat = value
	case "enabled":
		if value == "" {
			m.Enabled = nil
			return nil
		}
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("meta enabled=%q: want true or false", value)
		}
		m.Enabled = &b
	default:
		return fmt.Errorf("unknown alert meta attribute %q%s (alert meta attributes: %s)", key, DidYouMean(key, AlertMetaKeys), strings.Join(AlertMetaKeys, ", "))
	}
	return nil
}

// envNameRE is what an option's name must be to be an environment
// variable a shell script can read.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// AlertSpec is what `alert create` and `alert update` say.
type AlertSpec struct {
	Path, Webhook, Description *string // nil: not given
	Options                    map[string]string
	Meta                       map[string]string
	// Select, when not nil, replaces the alert's event kinds (empty:
	// every kind).
	Select *[]string
}

// AddAlert adds alert id (pcs's default "alert", "alert-1", ... when id
// is ""), configured by spec; it returns the id.
func (c *CIB) AddAlert(id string, spec AlertSpec) (string, error) {
	if id == "" {
		id = c.freeID("alert")
	}
	if !ValidID(id) {
		return "", fmt.Errorf("alert id %q: %s", id, idRule)
	}
	if what := c.idInUse(id); what != "" {
		return "", fmt.Errorf("id %q is already used by %s", id, what)
	}
	a := Alert{ID: id}
	if err := applyAlertSpec(&a, spec); err != nil {
		return "", err
	}
	if a.Path == "" && a.Webhook == "" {
		return "", fmt.Errorf("alert %q: give path=/ABSOLUTE/PATH of the agent (or webhook=URL)", id)
	}
	c.Alerts = append(c.Alerts, a)
	return id, nil
}

// UpdateAlert merges spec into alert id (an empty value removes an option
// or meta attribute).
func (c *CIB) UpdateAlert(id string, spec AlertSpec) error {
	a, err := c.MustAlert(id)
	if err != nil {
		return err
	}
	next := *a
	next.Options = maps(a.Options)
	next.Recipients = slices.Clone(a.Recipients)
	if err := applyAlertSpec(&next, spec); err != nil {
		return err
	}
	*a = next
	return nil
}

func maps(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func applyAlertSpec(a *Alert, spec AlertSpec) error {
	what := fmt.Sprintf("alert %q", a.ID)
	if spec.Path != nil {
		a.Path = *spec.Path
	}
	if spec.Webhook != nil {
		a.Webhook = *spec.Webhook
	}
	if spec.Description != nil {
		a.Description = *spec.Description
	}
	if a.Path != "" && a.Webhook != "" {
		return fmt.Errorf("%s: give path or webhook, not both (create one alert for each)", what)
	}
	if msg := alertPathProblem(a.Path); a.Path != "" && msg != "" {
		return fmt.Errorf("%s: %s", what, msg)
	}
	if msg := webhookProblem(a.Webhook); a.Webhook != "" && msg != "" {
		return fmt.Errorf("%s: %s", what, msg)
	}
	for _, k := range sortedKeys(spec.Options) {
		v := spec.Options[k]
		if msg := optionNameProblem(k); msg != "" {
			return fmt.Errorf("%s: %s", what, msg)
		}
		if v == "" {
			delete(a.Options, k)
			continue
		}
		if a.Options == nil {
			a.Options = map[string]string{}
		}
		a.Options[k] = v
	}
	if len(a.Options) == 0 {
		a.Options = nil
	}
	for _, k := range sortedKeys(spec.Meta) {
		if err := SetAlertMeta(&a.Meta, k, spec.Meta[k]); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if spec.Select != nil {
		if msg := selectProblem(*spec.Select); msg != "" {
			return fmt.Errorf("%s: %s", what, msg)
		}
		a.Select = nil
		if len(*spec.Select) > 0 {
			a.Select = slices.Clone(*spec.Select)
		}
	}
	return nil
}

// RemoveAlert deletes alerts ids (all or nothing).
func (c *CIB) RemoveAlert(ids ...string) error {
	for _, id := range ids {
		if _, err := c.MustAlert(id); err != nil {
			return err
		}
	}
	c.Alerts = slices.DeleteFunc(c.Alerts, func(a Alert) bool { return slices.Contains(ids, a.ID) })
	if len(c.Alerts) == 0 {
		c.Alerts = nil
	}
	return nil
}

// AddRecipient adds a recipient to alert alertID (id "" is pcs's default,
// "<alert>-recipient", "-1", ...); it returns the recipient's id.
func (c *CIB) AddRecipient(alertID, id, value string, meta map[string]string) (string, error) {
	a, err := c.MustAlert(alertID)
	if err != nil {
		return "", err
	}
	if value == "" {
		return "", fmt.Errorf("alert %q: a recipient needs value=... (a file, an address: whatever the agent takes)", alertID)
	}
	for _, r := range a.Recipients {
		if r.Value == value {
			return "", fmt.Errorf("alert %q: recipient %q already has value %q", alertID, r.ID, value)
		}
	}
	if id == "" {
		id = c.freeID(alertID + "-recipient")
	}
	if !ValidID(id) {
		return "", fmt.Errorf("recipient id %q: %s", id, idRule)
	}
	if what := c.idInUse(id); what != "" {
		return "", fmt.Errorf("id %q is already used by %s", id, what)
	}
	r := Recipient{ID: id, Value: value}
	for _, k := range sortedKeys(meta) {
		if err := SetAlertMeta(&r.Meta, k, meta[k]); err != nil {
			return "", fmt.Errorf("recipient %q: %w", id, err)
		}
	}
	a.Recipients = append(a.Recipients, r)
	return id, nil
}

// RemoveRecipient deletes recipients ids, from whichever alert has them.
func (c *CIB) RemoveRecipient(ids ...string) error {
	for _, id := range ids {
		if a, _ := c.recipient(id); a == nil {
			return fmt.Errorf("no alert recipient %q", id)
		}
	}
	for i := range c.Alerts {
		a := &c.Alerts[i]
		a.Recipients = slices.DeleteFunc(a.Recipients, func(r Recipient) bool { return slices.Contains(ids, r.ID) })
		if len(a.Recipients) == 0 {
			a.Recipients = nil
		}
	}
	return nil
}

func (c *CIB) recipient(id string) (*Alert, *Recipient) {
	for i := range c.Alerts {
		for j := range c.Alerts[i].Recipients {
			if c.Alerts[i].Recipients[j].ID == id {
				return &c.Alerts[i], &c.Alerts[i].Recipients[j]
			}
		}
	}
	return nil, nil
}

// freeID is base, or base-1, base-2, ... whichever no one uses.
func (c *CIB) freeID(base string) string {
	id := base
	for n := 1; c.idInUse(id) != ""; n++ {
		id = fmt.Sprintf("%s-%d", base, n)
	}
	return id
}

// alertPathProblem says what is wrong with an agent's path ("" nothing):
// it is run on every node, so it must be absolute. Whether it exists and
// is executable is for each node to say.
func alertPathProblem(p string) string {
	if !filepath.IsAbs(p) {
		return fmt.Sprintf("path %q is not absolute: the agent runs on every node from the same absolute path (like /usr/share/pacemaker/alerts/alert_file.sh)", p)
	}
	if filepath.Clean(p) != p || strings.HasSuffix(p, "/") {
		return fmt.Sprintf("path %q: write it without . or .. parts, double or trailing slashes (%s)", p, filepath.Clean(p))
	}
	return ""
}

// webhookProblem says what is wrong with a webhook URL ("" nothing).
func webhookProblem(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("webhook %q is not a URL: %v", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("webhook %q: want an http:// or https:// URL", s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Sprintf("webhook %q has no host", s)
	}
	if u.User != nil {
		return fmt.Sprintf("webhook %q holds a user or password: the live configuration is readable by every member; use a token in the path or a receiver on a trusted network", s)
	}
	if u.Fragment != "" {
		return fmt.Sprintf("webhook %q has a #fragment, which is never sent", s)
	}
	return ""
}

func optionNameProblem(k string) string {
	if !envNameRE.MatchString(k) {
		return fmt.Sprintf("option %q: an option is an environment variable of the agent: letters, digits and '_', not starting with a digit", k)
	}
	if strings.HasPrefix(k, "CRM_") {
		return fmt.Sprintf("option %q: CRM_* variables are the event's; name the option otherwise", k)
	}
	return ""
}

// alerts checks the alerts: ids valid and unique (among every id of the
// model), one of path and webhook, each well formed, options and meta
// attributes, recipients.
func (v *validator) alerts() {
	for i, a := range v.c.Alerts {
		path := fmt.Sprintf("alert[%d]", i)
		what := fmt.Sprintf("alert %q", a.ID)
		if !ValidID(a.ID) {
			v.at(path+".id", "alert id %q: %s", a.ID, idRule)
		} else {
			v.claim(a.ID, path+".id", what)
		}
		switch {
		case a.Path == "" && a.Webhook == "":
			v.at(path, "%s: give path (the agent's absolute path) or webhook (a URL)", what)
		case a.Path != "" && a.Webhook != "":
			v.at(path, "%s: give path or webhook, not both (one alert for each)", what)
		case a.Path != "":
			if msg := alertPathProblem(a.Path); msg != "" {
				v.at(path+".path", "%s: %s", what, msg)
			}
		default:
			if msg := webhookProblem(a.Webhook); msg != "" {
				v.at(path+".webhook", "%s: %s", what, msg)
			}
		}
		for _, k := range sortedKeys(a.Options) {
			if msg := optionNameProblem(k); msg != "" {
				v.at(path+".options."+k, "%s: %s", what, msg)
			}
		}
		v.alertMeta(path+".meta", what, a.Meta)
		if msg := selectProblem(a.Select); msg != "" {
			v.at(path+".select", "%s: %s", what, msg)
		}
		values := map[string]bool{}
		for j, r := range a.Recipients {
			rpath := fmt.Sprintf("%s.recipient[%d]", path, j)
			rwhat := fmt.Sprintf("%s recipient %q", what, r.ID)
			if !ValidID(r.ID) {
				v.at(rpath+".id", "%s: recipient id %q: %s", what, r.ID, idRule)
			} else {
				v.claim(r.ID, rpath+".id", rwhat)
			}
			if r.Value == "" {
				v.at(rpath+".value", "%s: value is missing", rwhat)
			} else if values[r.Value] {
				v.at(rpath+".value", "%s: value %q is given twice", rwhat, r.Value)
			}
			values[r.Value] = true
			v.alertMeta(rpath+".meta", rwhat, r.Meta)
		}
	}
}

func (v *validator) alertMeta(path, what string, m AlertMeta) {
	if m.Timeout < 0 {
		v.at(path+".timeout", "%s: meta timeout is negative", what)
	}
	if _, err := FormatTimestamp(m.TimestampFormat, time.Time{}); err != nil {
		v.at(path+".timestamp-format", "%s: meta timestamp-format: %v", what, err)
	}
}

// alertText checks the alerts' names and values for control characters.
func (v *validator) alertText(check func(path, what, s string)) {
	for i, a := range v.c.Alerts {
		path := fmt.Sprintf("alert[%d]", i)
		what := fmt.Sprintf("alert %q", a.ID)
		check(path+".id", "alert id", a.ID)
		check(path+".path", what+": path", a.Path)
		check(path+".webhook", what+": webhook", a.Webhook)
		check(path+".description", what+": description", a.Description)
		check(path+".meta.timestamp-format", what+": meta timestamp-format", a.Meta.TimestampFormat)
		for _, k := range sortedKeys(a.Options) {
			check(path+".options."+k, fmt.Sprintf("%s: option %q", what, k), a.Options[k])
		}
		for j, r := range a.Recipients {
			rpath := fmt.Sprintf("%s.recipient[%d]", path, j)
			check(rpath+".id", what+": recipient id", r.ID)
			check(rpath+".value", fmt.Sprintf("%s recipient %q: value", what, r.ID), r.Value)
			check(rpath+".meta.timestamp-format", fmt.Sprintf("%s recipient %q: meta timestamp-format", what, r.ID), r.Meta.TimestampFormat)
		}
	}
}
