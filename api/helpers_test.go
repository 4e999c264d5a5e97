package api_test

import "github.com/sessiond/sessiond/api/apitest"

// password is the password of every account the harness registers.
const password = apitest.Password
