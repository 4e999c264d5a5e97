package web_test

import (
	"os"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api/apitest"
	"github.com/sessiond/sessiond/services/servicetest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(servicetest.Main(m))
}

// password is the password of every account the harness registers.
const password = apitest.Password
