package services_test

import (
	"os"
	"testing"

	"github.com/sessiond/sessiond/services/servicetest"
)

func TestMain(m *testing.M) { os.Exit(servicetest.Main(m)) }
