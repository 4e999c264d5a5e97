package web

import (
	"github.com/gin-gonic/gin"

	"github.com/sessiond/sessiond/api"
)

// Register adds every page's route to r (the API's engine, behind its middleware).
func (h *Handler) Register(r gin.IRouter) {
	r.GET("/static/*file", h.serveStatic)

	// Every form must come from our own pages, the sign-in form included (login CSRF).
	pages := r.Group("", pageHeaders, h.csrf.Unsafe(nil, h.fail))
	pages.GET("/", h.rootPage)
	pages.GET("/login", h.loginPage)
	pages.GET("/register", h.registerPage)
	pages.POST("/register", h.registerSubmit)
	pages.POST("/login", h.loginSubmit)
	pages.GET("/devices/limit", h.chooserPage)
	pages.POST("/devices/limit", h.chooserSubmit)
	pages.POST("/devices/limit/cancel", h.chooserCancel)
	pages.GET("/forgot", h.forgotPage) // account recovery: recovery.go
	pages.POST("/forgot", h.forgotSubmit)
	pages.GET("/reset", h.resetPage)
	pages.POST("/reset", h.resetSubmit)
	pages.GET("/verify", h.verifyPage)
	pages.POST("/verify", h.verifySubmit)
	pages.POST("/verify/resend", h.resendSubmit)
	pages.GET("/tv", h.tvPage) // a page that acts as a TV signing in with a code
	pages.POST("/tv/start", h.tvStart)
	// The browser's side of a sign-in through an identity provider; only our own pages or the
	// person may start one.
	pages.GET("/v1/auth/oidc/:provider/start", h.csrf.Navigation(h.fail), h.oidcStart)
	pages.GET("/v1/auth/oidc/:provider/callback", h.oidcCallback)

	signedIn := pages.Group("", h.requireSession)
	signedIn.POST("/logout", h.logoutSubmit)
	signedIn.GET("/devices", h.devicesPage)
	signedIn.POST("/devices/:id/sign-out", h.signOutDevice)
	signedIn.POST("/devices/sign-out-others", h.signOutOthers)
	signedIn.GET("/history", h.historyPage)
	signedIn.POST("/streams/play", h.withStreams(h.playHere))
	signedIn.POST("/devices/streams/:id/stop", h.withStreams(h.stopStream))
	signedIn.GET("/activate", h.activatePage) // the person's side of a TV's sign-in with a code
	signedIn.POST("/activate/approve", h.activateApprove)
	signedIn.POST("/activate/deny", h.activateDeny)

	admin := signedIn.Group("/admin", api.RequireAdmin(h.fail))
	admin.GET("", h.adminPage)
	admin.POST("/plans", h.adminCreatePlan)
	admin.POST("/plans/:id", h.adminSavePlan)
	admin.POST("/plans/:id/delete", h.adminDeletePlan)
	admin.POST("/clients", h.adminCreateClient)
	admin.POST("/clients/:id/delete", h.adminDeleteClient)
	admin.POST("/users/:id/limits", h.adminUserLimits)
	admin.GET("/users/:id", h.adminUserPage)
	admin.POST("/users/:id", h.adminChangeUser)
	admin.POST("/users/:id/sign-out", h.adminSignOutUser)
	admin.POST("/users/:id/sessions/:sid/sign-out", h.adminSignOutSession)
	admin.POST("/users/:id/streams/:sid/end", h.withStreams(h.adminEndStream))
}
