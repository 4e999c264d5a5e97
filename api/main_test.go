package api_test

import (
	"os"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/services/servicetest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(servicetest.Main(m))
}
