"""URLs of the users API, mounted under /api/v1/users/, and the key discovery documents mounted at
the site root (`root_urlpatterns`), where OpenID-style verifiers look for them."""

from django.urls import path

from apps.users.api import views

addresses = views.AddressViewSet.as_view({"get": "list", "post": "create"})
address = views.AddressViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})

urlpatterns = [
    path("register/", views.RegisterView.as_view(), name="register"),
    path("token/", views.LoginView.as_view(), name="token"),
    path("token/refresh/", views.RefreshView.as_view(), name="token-refresh"),
    path("token/revoke/", views.RevokeView.as_view(), name="token-revoke"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("me/sign-out-everywhere/", views.SignOutEverywhereView.as_view(), name="sign-out-everywhere"),
    path("me/phone/verification/", views.PhoneVerificationView.as_view(), name="phone-verification"),
    path("me/phone/verification/confirm/", views.PhoneConfirmView.as_view(), name="phone-verification-confirm"),
    path("me/email/verification/", views.EmailVerificationView.as_view(), name="email-verification"),
    path("email/verify/", views.EmailVerifyView.as_view(), name="email-verify"),
    path("password-reset/", views.PasswordResetRequestView.as_view(), name="password-reset"),
    path("password-reset/confirm/", views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("addresses/", addresses, name="address-list"),
    path("addresses/<uuid:address_id>/", address, name="address-detail"),
]

root_urlpatterns = [
    path(".well-known/jwks.json", views.JWKSView.as_view(), name="jwks"),
    path(".well-known/openid-configuration", views.OpenIDConfigurationView.as_view(), name="openid-configuration"),
]
