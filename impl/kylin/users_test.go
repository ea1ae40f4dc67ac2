package kylin

import "testing"

// Which password values are read as base64 (NUserController.pwdBase64Decode's pattern,
// and only when they decode to text).
func TestPasswordBase64(t *testing.T) {
	for in, want := range map[string]string{
		"V2VsY29tZSMyMDI2":     "Welcome#2026", // base64 of UTF-8 text
		"R3LDvMOfZSMyMDI2eA==": "Grüße#2026x",
		"QWJjMT8/Pz8=":         "Abc1????",
		"Welcome#2026":         "Welcome#2026",      // '#' is not base64
		"V2VsY29tZSMyMDI":      "V2VsY29tZSMyMDI",   // not whole groups of four
		"V2VsY29tZSMyMDI2=":    "V2VsY29tZSMyMDI2=", // padding where none belongs
		"QWJj=MT8":             "QWJj=MT8",          // padding inside
		"Pass/123":             "Pass/123",          // matches, but decodes to bytes, not text
		"AAECAwQF":             "AAECAwQF",          // decodes to control characters
		"":                     "",
	} {
		if got := password(in); got != want {
			t.Errorf("password(%q) = %q, want %q", in, got, want)
		}
	}
}
