from http import HTTPStatus

from flask import Flask
from werkzeug.exceptions import HTTPException

app = Flask(__name__)


PAGE = """<!doctype html>
<html lang="fr">
  <head>
    <meta charset="utf-8">
    <title>TP6</title>
    <style>
      .card-0 { margin: 0px auto; padding: 4px 8px; color: #333; }
      .card-1 { margin: 1px auto; padding: 4px 8px; color: #333; }
      .card-2 { margin: 2px auto; padding: 4px 8px; color: #333; }
      .card-3 { margin: 3px auto; padding: 4px 8px; color: #333; }
      .card-4 { margin: 4px auto; padding: 4px 8px; color: #333; }
      .card-5 { margin: 5px auto; padding: 4px 8px; color: #333; }
      .card-6 { margin: 6px auto; padding: 4px 8px; color: #333; }
      .card-7 { margin: 7px auto; padding: 4px 8px; color: #333; }
      .card-8 { margin: 8px auto; padding: 4px 8px; color: #333; }
      .card-9 { margin: 9px auto; padding: 4px 8px; color: #333; }
      .card-10 { margin: 10px auto; padding: 4px 8px; color: #333; }
      .card-11 { margin: 11px auto; padding: 4px 8px; color: #333; }
      .card-12 { margin: 12px auto; padding: 4px 8px; color: #333; }
      .card-13 { margin: 13px auto; padding: 4px 8px; color: #333; }
      .card-14 { margin: 14px auto; padding: 4px 8px; color: #333; }
      .card-15 { margin: 15px auto; padding: 4px 8px; color: #333; }
      .card-16 { margin: 16px auto; padding: 4px 8px; color: #333; }
      .card-17 { margin: 17px auto; padding: 4px 8px; color: #333; }
      .card-18 { margin: 18px auto; padding: 4px 8px; color: #333; }
      .card-19 { margin: 19px auto; padding: 4px 8px; color: #333; }
      .card-20 { margin: 20px auto; padding: 4px 8px; color: #333; }
      .card-21 { margin: 21px auto; padding: 4px 8px; color: #333; }
      .card-22 { margin: 22px auto; padding: 4px 8px; color: #333; }
      .card-23 { margin: 23px auto; padding: 4px 8px; color: #333; }
      .card-24 { margin: 24px auto; padding: 4px 8px; color: #333; }
      .card-25 { margin: 25px auto; padding: 4px 8px; color: #333; }
      .card-26 { margin: 26px auto; padding: 4px 8px; color: #333; }
      .card-27 { margin: 27px auto; padding: 4px 8px; color: #333; }
      .card-28 { margin: 28px auto; padding: 4px 8px; color: #333; }
      .card-29 { margin: 29px auto; padding: 4px 8px; color: #333; }
      .card-30 { margin: 30px auto; padding: 4px 8px; color: #333; }
      .card-31 { margin: 31px auto; padding: 4px 8px; color: #333; }
      .card-32 { margin: 32px auto; padding: 4px 8px; color: #333; }
      .card-33 { margin: 33px auto; padding: 4px 8px; color: #333; }
      .card-34 { margin: 34px auto; padding: 4px 8px; color: #333; }
      .card-35 { margin: 35px auto; padding: 4px 8px; color: #333; }
      .card-36 { margin: 36px auto; padding: 4px 8px; color: #333; }
      .card-37 { margin: 37px auto; padding: 4px 8px; color: #333; }
      .card-38 { margin: 38px auto; padding: 4px 8px; color: #333; }
      .card-39 { margin: 39px auto; padding: 4px 8px; color: #333; }
      .card-40 { margin: 40px auto; padding: 4px 8px; color: #333; }
      .card-41 { margin: 41px auto; padding: 4px 8px; color: #333; }
      .card-42 { margin: 42px auto; padding: 4px 8px; color: #333; }
      .card-43 { margin: 43px auto; padding: 4px 8px; color: #333; }
      .card-44 { margin: 44px auto; padding: 4px 8px; color: #333; }
      .card-45 { margin: 45px auto; padding: 4px 8px; color: #333; }
      .card-46 { margin: 46px auto; padding: 4px 8px; color: #333; }
      .card-47 { margin: 47px auto; padding: 4px 8px; color: #333; }
      .card-48 { margin: 48px auto; padding: 4px 8px; color: #333; }
      .card-49 { margin: 49px auto; padding: 4px 8px; color: #333; }
      .card-50 { margin: 50px auto; padding: 4px 8px; color: #333; }
      .card-51 { margin: 51px auto; padding: 4px 8px; color: #333; }
      .card-52 { margin: 52px auto; padding: 4px 8px; color: #333; }
      .card-53 { margin: 53px auto; padding: 4px 8px; color: #333; }
      .card-54 { margin: 54px auto; padding: 4px 8px; color: #333; }
      .card-55 { margin: 55px auto; padding: 4px 8px; color: #333; }
      .card-56 { margin: 56px auto; padding: 4px 8px; color: #333; }
      .card-57 { margin: 57px auto; padding: 4px 8px; color: #333; }
      .card-58 { margin: 58px auto; padding: 4px 8px; color: #333; }
      .card-59 { margin: 59px auto; padding: 4px 8px; color: #333; }
      .card-60 { margin: 60px auto; padding: 4px 8px; color: #333; }
      .card-61 { margin: 61px auto; padding: 4px 8px; color: #333; }
      .card-62 { margin: 62px auto; padding: 4px 8px; color: #333; }
      .card-63 { margin: 63px auto; padding: 4px 8px; color: #333; }
      .card-64 { margin: 64px auto; padding: 4px 8px; color: #333; }
      .card-65 { margin: 65px auto; padding: 4px 8px; color: #333; }
      .card-66 { margin: 66px auto; padding: 4px 8px; color: #333; }
      .card-67 { margin: 67px auto; padding: 4px 8px; color: #333; }
      .card-68 { margin: 68px auto; padding: 4px 8px; color: #333; }
      .card-69 { margin: 69px auto; padding: 4px 8px; color: #333; }
      .card-70 { margin: 70px auto; padding: 4px 8px; color: #333; }
      .card-71 { margin: 71px auto; padding: 4px 8px; color: #333; }
      .card-72 { margin: 72px auto; padding: 4px 8px; color: #333; }
      .card-73 { margin: 73px auto; padding: 4px 8px; color: #333; }
      .card-74 { margin: 74px auto; padding: 4px 8px; color: #333; }
      .card-75 { margin: 75px auto; padding: 4px 8px; color: #333; }
      .card-76 { margin: 76px auto; padding: 4px 8px; color: #333; }
      .card-77 { margin: 77px auto; padding: 4px 8px; color: #333; }
      .card-78 { margin: 78px auto; padding: 4px 8px; color: #333; }
      .card-79 { margin: 79px auto; padding: 4px 8px; color: #333; }
      .card-80 { margin: 80px auto; padding: 4px 8px; color: #333; }
      .card-81 { margin: 81px auto; padding: 4px 8px; color: #333; }
      .card-82 { margin: 82px auto; padding: 4px 8px; color: #333; }
      .card-83 { margin: 83px auto; padding: 4px 8px; color: #333; }
      .card-84 { margin: 84px auto; padding: 4px 8px; color: #333; }
      .card-85 { margin: 85px auto; padding: 4px 8px; color: #333; }
      .card-86 { margin: 86px auto; padding: 4px 8px; color: #333; }
      .card-87 { margin: 87px auto; padding: 4px 8px; color: #333; }
      .card-88 { margin: 88px auto; padding: 4px 8px; color: #333; }
      .card-89 { margin: 89px auto; padding: 4px 8px; color: #333; }
      .card-90 { margin: 90px auto; padding: 4px 8px; color: #333; }
      .card-91 { margin: 91px auto; padding: 4px 8px; color: #333; }
      .card-92 { margin: 92px auto; padding: 4px 8px; color: #333; }
      .card-93 { margin: 93px auto; padding: 4px 8px; color: #333; }
      .card-94 { margin: 94px auto; padding: 4px 8px; color: #333; }
      .card-95 { margin: 95px auto; padding: 4px 8px; color: #333; }
      .card-96 { margin: 96px auto; padding: 4px 8px; color: #333; }
      .card-97 { margin: 97px auto; padding: 4px 8px; color: #333; }
      .card-98 { margin: 98px auto; padding: 4px 8px; color: #333; }
      .card-99 { margin: 99px auto; padding: 4px 8px; color: #333; }
      .card-100 { margin: 100px auto; padding: 4px 8px; color: #333; }
      .card-101 { margin: 101px auto; padding: 4px 8px; color: #333; }
      .card-102 { margin: 102px auto; padding: 4px 8px; color: #333; }
      .card-103 { margin: 103px auto; padding: 4px 8px; color: #333; }
      .card-104 { margin: 104px auto; padding: 4px 8px; color: #333; }
      .card-105 { margin: 105px auto; padding: 4px 8px; color: #333; }
      .card-106 { margin: 106px auto; padding: 4px 8px; color: #333; }
      .card-107 { margin: 107px auto; padding: 4px 8px; color: #333; }
      .card-108 { margin: 108px auto; padding: 4px 8px; color: #333; }
      .card-109 { margin: 109px auto; padding: 4px 8px; color: #333; }
      .card-110 { margin: 110px auto; padding: 4px 8px; color: #333; }
      .card-111 { margin: 111px auto; padding: 4px 8px; color: #333; }
      .card-112 { margin: 112px auto; padding: 4px 8px; color: #333; }
      .card-113 { margin: 113px auto; padding: 4px 8px; color: #333; }
      .card-114 { margin: 114px auto; padding: 4px 8px; color: #333; }
      .card-115 { margin: 115px auto; padding: 4px 8px; color: #333; }
      .card-116 { margin: 116px auto; padding: 4px 8px; color: #333; }
      .card-117 { margin: 117px auto; padding: 4px 8px; color: #333; }
      .card-118 { margin: 118px auto; padding: 4px 8px; color: #333; }
      .card-119 { margin: 119px auto; padding: 4px 8px; color: #333; }
      .card-120 { margin: 120px auto; padding: 4px 8px; color: #333; }
      .card-121 { margin: 121px auto; padding: 4px 8px; color: #333; }
      .card-122 { margin: 122px auto; padding: 4px 8px; color: #333; }
      .card-123 { margin: 123px auto; padding: 4px 8px; color: #333; }
      .card-124 { margin: 124px auto; padding: 4px 8px; color: #333; }
      .card-125 { margin: 125px auto; padding: 4px 8px; color: #333; }
      .card-126 { margin: 126px auto; padding: 4px 8px; color: #333; }
      .card-127 { margin: 127px auto; padding: 4px 8px; color: #333; }
      .card-128 { margin: 128px auto; padding: 4px 8px; color: #333; }
      .card-129 { margin: 129px auto; padding: 4px 8px; color: #333; }
    </style>
  </head>
  <body>
    <h1>Hello Docker&#33;</h1>
    <p>Servi par gunicorn&nbsp;&mdash; Martin Camille</p>
  </body>
</html>
"""


@app.route("/")
def hello():
    return PAGE


@app.errorhandler(HTTPException)
def handle_http_exception(exception: HTTPException):
    return exception.description, exception.code


@app.errorhandler(Exception)
def handle_exception(exception: Exception):
    return HTTPStatus.INTERNAL_SERVER_ERROR.description, HTTPStatus.INTERNAL_SERVER_ERROR
