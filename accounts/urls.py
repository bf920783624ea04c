from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.tokens, name="tokens"),
    path("<int:token_id>/revoke/", views.revoke, name="revoke"),
]
