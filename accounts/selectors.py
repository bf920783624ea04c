from accounts.models import APIToken


def tokens_of(user):
    return APIToken.objects.filter(user=user)
