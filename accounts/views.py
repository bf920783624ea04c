"""The token page: list your tokens, create one (shown once), revoke one."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import TokenForm


NEW_TOKEN_KEY = "accounts.new_token"


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    """POST creates a token and redirects (a reload must not create another); the GET after it shows the raw
    token once, handed over in the session and removed from it as it is shown."""
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = services.create_token(user=request.user, **form.cleaned_data)
        except services.TokenError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            request.session[NEW_TOKEN_KEY] = {"id": token.pk, "raw": raw}
            return redirect("accounts:tokens")
    created = _pop_new_token(request)
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/tokens.html",
                  {"form": form, "created": created, "tokens": selectors.tokens_of(request.user)}, status=status)


def _pop_new_token(request) -> dict | None:
    handed = request.session.pop(NEW_TOKEN_KEY, None)
    if not isinstance(handed, dict):
        return None
    token = selectors.tokens_of(request.user).filter(pk=handed.get("id")).first()
    return {"token": token, "raw": handed.get("raw")} if token is not None else None


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
