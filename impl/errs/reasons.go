package errs

// Reason refines a Code where a face tells finer cases apart (Kylin's KE-… codes). The
// whole set lives here, so a face's mapping can be checked against it.
type Reason string

const (
	ReasonNoCredentials Reason = "no-credentials" // Unauthorized: nothing presented (KE-010003207)

	ReasonNoUser           Reason = "no-user"            // NotFound (KE-010003001)
	ReasonDuplicateUser    Reason = "duplicate-user"     // Conflict (KE-010003004)
	ReasonWrongOldPassword Reason = "wrong-old-password" // Invalid (KE-010005003)
	// ReasonLocked refuses an authenticated caller's own password change while their
	// login name is locked (a 403, not the 401 of a locked login); Until says till when.
	ReasonLocked           Reason = "locked"             // KE-010003005
	ReasonPasswordTooShort Reason = "password-too-short" // Invalid (KE-010005002, SHORT_PASSWORD)
	ReasonPasswordWeak     Reason = "password-weak"      // Invalid (KE-010005001, INVALID_PASSWORD)
	ReasonUsername         Reason = "username-rule"      // Invalid

	ReasonNoGroup        Reason = "no-group"        // NotFound (KE-010004001, USERGROUP_NOT_EXIST)
	ReasonGroupName      Reason = "group-name"      // Invalid (KE-010004003, INVALID_USERGROUP_NAME)
	ReasonDuplicateGroup Reason = "duplicate-group" // Conflict (KE-010004004, DUPLICATE_USERGROUP_NAME)

	ReasonNoProject          Reason = "no-project"           // NotFound (KE-010001201, PROJECT_NOT_EXIST)
	ReasonDuplicateProject   Reason = "duplicate-project"    // Conflict (KE-010001004)
	ReasonInvalidProjectName Reason = "invalid-project-name" // Invalid (KE-010001003, INVALID_PROJECT_NAME)

	ReasonQueryConcurrency Reason = "query-concurrency" // TooMany: over a query concurrency limit (KE-010028002)
)
