"""The token page: list your tokens, create one (shown once), revoke one."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import TokenForm


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    form = TokenForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = services.create_token(user=request.user, **form.cleaned_data)
        except services.TokenError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            created = {"token": token, "raw": raw}
            form = TokenForm()
    status = 400 if request.method == "POST" and created is None else 200
    return render(request, "accounts/tokens.html",
                  {"form": form, "created": created, "tokens": selectors.tokens_of(request.user)}, status=status)


@login_required
@require_POST
def revoke(request, token_id: int):
    try:
        token = services.revoke_token(user=request.user, token_id=token_id)
    except services.TokenError:
        messages.error(request, "No such token.")
    else:
        messages.success(request, f"Token {token.name!r} revoked; scripts using it now get 401.")
    return redirect("accounts:tokens")
