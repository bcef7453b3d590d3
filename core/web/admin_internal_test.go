package web

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCSVCell(t *testing.T) {
	tests := map[string]string{
		"=1+1": "'=1+1", "+cmd": "'+cmd", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"tech:abc": "tech:abc", "": "", "a=b": "a=b", "policy.updated": "policy.updated",
	}
	for in, want := range tests {
		assert.Equal(t, want, csvCell(in), "%q", in)
	}
}

func TestSMSSegments(t *testing.T) {
	assert.Equal(t, 1, smsSegments(string(make([]byte, 160))))
	assert.Equal(t, 2, smsSegments(string(make([]byte, 161))))
	assert.Equal(t, 2, smsSegments(string(make([]byte, 306))))
	assert.Equal(t, 3, smsSegments(string(make([]byte, 307))))
	assert.Equal(t, 2, smsSegments(string(make([]byte, 159))+"€"), "extension characters count twice")
}
