package kylin

import (
	"testing"

	"github.com/kala-server/kala/impl/errs"
)

// Kylin 5's own codes (ServerErrorCode, ErrorCodeServer in apache/kylin kylin5) for the
// conditions SPEC §6 lists.
func TestKylinCodes(t *testing.T) {
	for _, c := range []struct {
		err  *errs.Error
		want string
	}{
		{errs.Field("name", "is required"), "KE-010000003"},                                  // INVALID_PARAMETER
		{errs.E(errs.Unsupported, "text/plain"), "KE-010000003"},                             // INVALID_PARAMETER
		{errs.E(errs.NotFound, "x").WithReason(errs.ReasonNoUser), "KE-010003001"},           // USER_NOT_EXIST
		{errs.Field("names", "no user").WithReason(errs.ReasonNoUser), "KE-010003001"},       // USER_NOT_EXIST
		{errs.E(errs.NotFound, "x").WithReason(errs.ReasonNoProject), "KE-010001201"},        // PROJECT_NOT_EXIST
		{errs.E(errs.Invalid, "x").WithReason(errs.ReasonPasswordWeak), "KE-010005001"},      // INVALID_PASSWORD
		{errs.E(errs.Invalid, "x").WithReason(errs.ReasonPasswordTooShort), "KE-010005002"},  // SHORT_PASSWORD
		{errs.E(errs.Invalid, "x").WithReason(errs.ReasonWrongOldPassword), "KE-010005003"},  // FAILED_UPDATE_PASSWORD
		{errs.E(errs.Conflict, "x").WithReason(errs.ReasonDuplicateUser), "KE-010003004"},    // DUPLICATE_USER_NAME
		{errs.E(errs.Conflict, "x").WithReason(errs.ReasonDuplicateProject), "KE-010001004"}, // DUPLICATE_PROJECT_NAME
		{errs.E(errs.NotFound, "x").WithReason(errs.ReasonNoGroup), "KE-010004001"},          // USERGROUP_NOT_EXIST
		{errs.Field("names", "no group").WithReason(errs.ReasonNoGroup), "KE-010004001"},     // USERGROUP_NOT_EXIST
		{errs.Field("group_name", "x").WithReason(errs.ReasonGroupName), "KE-010004003"},     // INVALID_USERGROUP_NAME
		{errs.E(errs.Conflict, "x").WithReason(errs.ReasonDuplicateGroup), "KE-010004004"},   // DUPLICATE_USERGROUP_NAME
		{errs.Field("name", "x").WithReason(errs.ReasonInvalidProjectName), "KE-010001003"},  // INVALID_PROJECT_NAME
		{errs.E(errs.NotFound, "no such access entry"), "KE-010000404"},                      // no Kylin code
	} {
		if got := keCode(c.err); got != c.want {
			t.Errorf("%v (reason %q): %s, want %s", c.err, c.err.Reason, got, c.want)
		}
	}
}
