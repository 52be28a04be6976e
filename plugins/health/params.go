package health

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Agent types and parameter names.
const (
	TypeHTTP = "http"
	TypeTCP  = "tcp"

	ParamURL           = "url"
	ParamAddress       = "address"
	ParamExpectStatus  = "expect_status"
	ParamExpectBody    = "expect_body"
	ParamTLSSkipVerify = "tls_skip_verify"
	ParamTimeout       = "timeout"
	ParamRise          = "rise"
	ParamFall          = "fall"

	DefaultTimeout = 5 * time.Second
	DefaultRise    = 1
	DefaultFall    = 1
)

// Placeholders expanded in url and address from the request: the node the
// check runs for, and that node's address in the cluster view.
const (
	PlaceholderNode        = "{node}"
	PlaceholderNodeAddress = "{node_address}"
)

var placeholderRE = regexp.MustCompile(`\{[A-Za-z0-9_]*\}`)

// Check is a health check's parameters, parsed. Target (url or address)
// may still hold placeholders; expand fills them in for one request.
type Check struct {
	Type          string
	Target        string
	ExpectStatus  []int
	ExpectBody    string
	TLSSkipVerify bool
	Timeout       time.Duration
	Rise, Fall    int
}

func checkType(agentType string) error {
	if agentType != TypeHTTP && agentType != TypeTCP {
		return fmt.Errorf("agent type %q: the health plugin provides health:http (also https URLs) and health:tcp", agentType)
	}
	return nil
}

// ParseCheck checks params for agentType without any I/O: sdk.ParseParams
// checks them against the type's meta-data (names, types, ranges,
// defaults), then the target and the status list are checked here. Every
// problem is reported, each naming its parameter.
func ParseCheck(agentType string, params map[string]string) (Check, error) {
	if err := checkType(agentType); err != nil {
		return Check{}, err
	}
	v := sdk.ParseParams(Name+":"+agentType, paramSpecs(agentType), params)
	c := Check{Type: agentType, Timeout: v.Duration(ParamTimeout), Rise: v.Int(ParamRise), Fall: v.Int(ParamFall)}
	switch agentType {
	case TypeHTTP:
		if s := v.String(ParamURL); s != "" {
			if err := checkURL(s); err != nil {
				v.Invalid(ParamURL, "%v", err)
			} else {
				c.Target = s
			}
		}
		statuses := v.String(ParamExpectStatus)
		if statuses == "" {
			statuses = "200" // given empty: the default
		}
		codes, err := parseStatuses(statuses)
		if err != nil {
			v.Invalid(ParamExpectStatus, "%v", err)
		}
		c.ExpectStatus = codes
		// Spaces in the text to find are part of it.
		c.ExpectBody = v.Raw(ParamExpectBody)
		c.TLSSkipVerify = v.Bool(ParamTLSSkipVerify)
	case TypeTCP:
		if s := v.String(ParamAddress); s != "" {
			if err := checkAddress(s); err != nil {
				v.Invalid(ParamAddress, "%v", err)
			} else {
				c.Target = s
			}
		}
	}
	return c, v.Err()
}

// checkPlaceholders refuses placeholders other than ours.
func checkPlaceholders(s string) error {
	for _, p := range placeholderRE.FindAllString(s, -1) {
		if p != PlaceholderNode && p != PlaceholderNodeAddress {
			return fmt.Errorf("unknown placeholder %s (known: %s, %s)", p, PlaceholderNode, PlaceholderNodeAddress)
		}
	}
	return nil
}

// sample fills the placeholders with stand-ins so that the rest of the
// text can be checked before any request names a node.
func sample(s string) string {
	s = strings.ReplaceAll(s, PlaceholderNodeAddress, "127.0.0.1")
	return strings.ReplaceAll(s, PlaceholderNode, "node1")
}

func checkURL(s string) error {
	if err := checkPlaceholders(s); err != nil {
		return err
	}
	u, err := url.Parse(sample(s))
	if err != nil {
		return fmt.Errorf("not a URL: %v", errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https (e.g. http://%s/)", PlaceholderNodeAddress)
	}
	if u.Host == "" {
		return fmt.Errorf("has no host (e.g. http://%s/)", PlaceholderNodeAddress)
	}
	if u.User != nil {
		return fmt.Errorf("credentials in the URL would be logged with every result; not supported")
	}
	return nil
}

func checkAddress(s string) error {
	if err := checkPlaceholders(s); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(sample(s))
	if err != nil {
		return fmt.Errorf("must be host:port (e.g. %s:80, or [2001:db8::1]:80)", PlaceholderNodeAddress)
	}
	if host == "" {
		return fmt.Errorf("has no host (e.g. %s:80)", PlaceholderNodeAddress)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port must be 1-65535")
	}
	return nil
}

func parseStatuses(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 100 || v > 599 {
			return nil, fmt.Errorf("must be an HTTP status from 100 to 599, or several separated by commas (e.g. 200,204)")
		}
		out = append(out, v)
	}
	return out, nil
}

// expand returns c.Target with the placeholders filled in for the node the
// request is for. An IPv6 node address is bracketed, as a URL's host and a
// host:port need.
func (c Check) expand(inst sdk.Instance, cluster *sdk.ClusterView) (string, error) {
	s := c.Target
	if strings.Contains(s, PlaceholderNodeAddress) {
		if inst.Node == "" {
			return "", fmt.Errorf("%s uses %s but the request names no node", c.targetParam(), PlaceholderNodeAddress)
		}
		addr := ""
		if cluster != nil {
			for _, n := range cluster.Nodes {
				if n.Name == inst.Node {
					addr = n.Address
					break
				}
			}
		}
		if addr == "" {
			return "", fmt.Errorf("%s uses %s but node %q has no address in the cluster view", c.targetParam(), PlaceholderNodeAddress, inst.Node)
		}
		if strings.Contains(addr, ":") && !strings.HasPrefix(addr, "[") {
			addr = "[" + addr + "]"
		}
		s = strings.ReplaceAll(s, "["+PlaceholderNodeAddress+"]", PlaceholderNodeAddress)
		s = strings.ReplaceAll(s, PlaceholderNodeAddress, addr)
	}
	if strings.Contains(s, PlaceholderNode) {
		if inst.Node == "" {
			return "", fmt.Errorf("%s uses %s but the request names no node", c.targetParam(), PlaceholderNode)
		}
		s = strings.ReplaceAll(s, PlaceholderNode, inst.Node)
	}
	return s, nil
}

func (c Check) targetParam() string {
	if c.Type == TypeTCP {
		return ParamAddress
	}
	return ParamURL
}
