// Command catalog is an example of a service that adopts sessiond without touching its
// database: a tiny streaming catalog whose titles need a signed-in session, and whose premium
// titles need the premium plan. It checks sessions through sessiond's introspection endpoint
// with api/client's Gin middleware, which caches answers for CATALOG_CACHE_TTL (the longest a
// signed-out device can still browse here).
//
//	SESSIOND_URL=http://localhost:8080 CATALOG_CLIENT_ID=… CATALOG_CLIENT_SECRET=… go run ./cmd/catalog
package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api/client"
)

type config struct {
	Addr         string        `env:"CATALOG_ADDR" envDefault:":8090"`
	SessiondURL  string        `env:"SESSIOND_URL" envDefault:"http://localhost:8080"`
	ClientID     string        `env:"CATALOG_CLIENT_ID,required"`
	ClientSecret string        `env:"CATALOG_CLIENT_SECRET,required"`
	CacheTTL     time.Duration `env:"CATALOG_CACHE_TTL" envDefault:"5s"`
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log); err != nil {
		log.Error("catalog stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	var cfg config
	if err := env.Parse(&cfg); err != nil {
		return err
	}
	sessiond, err := client.New(cfg.SessiondURL, cfg.ClientID, cfg.ClientSecret)
	if err != nil {
		return err
	}
	guard := sessiond.Middleware(client.WithTTL(cfg.CacheTTL))
	defer guard.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newRouter(guard, sessiond), ReadHeaderTimeout: 5 * time.Second}
	log.Info("listening", "addr", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// title is one thing to watch; a live one plays in the "live" stream class, which plans may
// limit further (at most one live stream even where the plan allows four).
type title struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Premium bool   `json:"premium"`
	Live    bool   `json:"live,omitempty"`
}

var titles = []title{
	{ID: "nature-1", Name: "The Quiet Forest"},
	{ID: "drama-7", Name: "Seven Winters"},
	{ID: "uhd-4k-1", Name: "Oceans in 4K", Premium: true},
	{ID: "cup-final", Name: "Cup final (live)", Live: true},
}

// newRouter is the catalog: adopting sessiond is the two middleware lines; playing under the
// account's stream limit is play.go.
func newRouter(guard *client.Middleware, sessiond *client.Client) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/catalog", guard.RequireSession(), func(c *gin.Context) {
		s, ok := session(guard, c)
		if !ok {
			return
		}
		c.JSON(http.StatusOK, gin.H{"plan": s.Plan, "titles": titles})
	})
	p := player{guard: guard, sessiond: sessiond}
	r.POST("/catalog/:id/play", guard.RequireSession(), p.play)
	r.POST("/catalog/streams/:sid/heartbeat", guard.RequireSession(), p.heartbeat)
	r.DELETE("/catalog/streams/:sid", guard.RequireSession(), p.stop)
	return r
}

// session is the request's session, or false once the request is refused: the session ended
// since the guard admitted it (possible once the guard's cached answer is gone).
func session(guard *client.Middleware, c *gin.Context) (client.Session, bool) {
	s, ok := guard.Session(c)
	if !ok {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": gin.H{"code": "unauthenticated", "message": "Sign in again."}})
	}
	return s, ok
}
