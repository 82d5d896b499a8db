from django.contrib import admin
from django.urls import path

from advisor import views

app_name = "advisor"

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
]
