from django import forms

from accounts.models import APIToken


class TokenForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="what the token is for, e.g. 'laptop' or 'CI'")
    scope = forms.ChoiceField(choices=APIToken.Scope.choices, initial=APIToken.Scope.READ,
                              help_text="read: list and download; write: also upload, train, decompose, build")
    expires_in_days = forms.IntegerField(min_value=1, max_value=3650, required=False,
                                         help_text="leave empty for a token that does not expire")
